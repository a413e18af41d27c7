// A LinkedIn member export written for the tests (no real member's data), in the layout and with the quirks
// of the real ones: Shares.csv with one row per media URL of a post (a shared video gives one row per
// thumbnail size, a two-image post two rows), multi-line commentary quoted line by line, published articles
// and drafts under Articles/Articles/ (a current draft linking its editor page, an older one named
// "<created>.0-<title>.html" with no link at all), and the files the importer must never open.
import { writeZip, type ZipFileEntry } from './zip-writer.js';

const share = (urn: string) => `https://www.linkedin.com/feed/update/urn%3Ali%3Ashare%3A${urn}`;
const thumbs = ['hqdefault', 'maxresdefault', 'sddefault', 'default', 'mqdefault'].map(
  (size) => `https://i.ytimg.com/vi/Qm8rT2vXw1k/${size}.jpg`,
);

export const SHARES_CSV = [
  'Date,ShareLink,ShareCommentary,SharedUrl,MediaUrl,Visibility',
  `2025-06-02 09:14:05,${share('7335000000000000001')},"We moved our CI to ephemeral runners this quarter.""
""""
""Three things surprised us: cache hit rates went up, flaky tests went down, and nobody misses the old pets.","","",MEMBER_NETWORK`,
  // A shared talk: the same post once per thumbnail size.
  ...thumbs.map(
    (thumb) =>
      `2025-05-20 17:40:00,${share('7330000000000000002')},"My talk on review culture is online.",https://youtu.be/Qm8rT2vXw1k,${thumb},MEMBER_NETWORK`,
  ),
  // Two photos, two rows.
  ...['C4D22AQH1', 'C4D22AQH2'].map(
    (asset) =>
      `2025-04-11 08:00:12,${share('7320000000000000003')},"Whiteboard from today's design review.","",https://media.licdn.com/dms/image/${asset}/feedshare-shrink_800/0/1712822400000,MEMBER_NETWORK`,
  ),
  `2025-03-01 12:00:00,${share('7310000000000000004')},"Hiring: two backend engineers, remote in Europe.",https://jobs.example.com/backend,,MEMBER_NETWORK`,
  '',
].join('\n');

/** The posts Shares.csv holds, by ShareLink. */
export const POSTS = [
  share('7335000000000000001'),
  share('7330000000000000002'),
  share('7320000000000000003'),
  share('7310000000000000004'),
];
export const VIDEO_THUMBS = thumbs;

const article = (title: string, link: string | null, created: string, published: string | null) =>
  `<html>
<head>
  <title>${title}</title>
  <meta charset="UTF-8">
  <style>body { margin: 0 auto; width: 744px; } .created, .published { color: rgba(0, 0, 0, 0.55); }</style>
</head>
<body>
    <img src="https://media.licdn.com/mediaC4E12AQF/article-cover_image-shrink_720_1280/0" alt="cover" />
    <h1>${link ? `<a href="${link}">${title}</a>` : title}</h1>
    <p class="created">Created on ${created}</p>
    <p class="published">${published ? `Published on ${published}` : 'Not published yet'}</p>
  <div><p>Every team I have joined had a different idea of what a review is for.</p>
<p>This is what I learnt from writing them down.</p></div>
</body>
</html>
`;

export const ARTICLES = {
  published: {
    name: 'Articles/Articles/What reviews are for.html',
    url: 'https://www.linkedin.com/pulse/what-reviews-ingrid-holm',
    title: 'What reviews are for',
  },
  draftWithLink: {
    name: 'Articles/Articles/Onboarding in a week.html',
    url: 'https://www.linkedin.com/post/edit/7340000000000000005',
    title: 'Onboarding in a week',
  },
  draftWithoutLink: {
    name: 'Articles/Articles/2019-03-04 10:22:31.0-Notes on estimates.html',
    url: `linkedin-export:article/${encodeURIComponent('2019-03-04 10:22:31.0-Notes on estimates')}`,
    title: 'Notes on estimates',
  },
} as const;

export function linkedinExportEntries(): ZipFileEntry[] {
  const { published, draftWithLink, draftWithoutLink } = ARTICLES;
  return [
    { name: 'Profile.csv', data: 'First Name,Last Name,Headline\nIngrid,Holm,Engineering manager\n' },
    { name: 'Connections.csv', data: 'First Name,Last Name,Email Address\nAda,Lovelace,ada@example.com\n' },
    { name: 'messages.csv', data: 'FROM,TO,CONTENT\nAda,Ingrid,private words\n' },
    { name: 'Comments.csv', data: `Date,Link,Message\n2025-06-03 10:00:00,${POSTS[0]},"Agreed!"\n` },
    { name: 'Shares.csv', data: SHARES_CSV },
    {
      name: published.name,
      data: article(published.title, published.url, '2024-11-02 18:03', '2024-11-05 07:30'),
    },
    {
      name: draftWithLink.name,
      data: article(draftWithLink.title, draftWithLink.url, '2025-05-30 21:12', null),
    },
    // Older exports: the draft's heading links nowhere; the file name is its creation time and title.
    { name: draftWithoutLink.name, data: article(draftWithoutLink.title, null, '2019-03-04 10:22', null) },
  ];
}

export const linkedinExportZip = (): Promise<Buffer> => writeZip(linkedinExportEntries());
