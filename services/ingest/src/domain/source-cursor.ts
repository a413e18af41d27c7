// Where an incremental crawl of a source starts, in what its platform allows a crawl to resume from: kept on
// the source, handed to the crawler, reported back by it. A type with every field present (null when
// unknown), because the warehouse stores it and only such a type meets the warehouse's index signature.
export type SourceCursor = {
  /** The newest publish time in the listing (feeds, Substack's archive), epoch ms UTC. */
  newestPublishedAt: number | null;
  /** The canonical URLs published at exactly that time: equal times are not new. */
  newestUrls: string[];
  /** Substack: how many archive entries the last crawl read before it reached what it had seen. */
  archiveOffset: number | null;
  /** Repositories: the commit the crawl read ('' for other sources). */
  gitCommit: string;
  /**
   * Feeds: the feed's URL and the validators it answered with (ETag, Last-Modified; '' when none), sent back
   * by the next incremental crawl so that an unchanged feed answers 304 and nothing is read or written.
   */
  feedUrl: string;
  feedEtag: string;
  feedLastModified: string;
};

export const EMPTY_CURSOR: SourceCursor = {
  newestPublishedAt: null,
  newestUrls: [],
  archiveOffset: null,
  gitCommit: '',
  feedUrl: '',
  feedEtag: '',
  feedLastModified: '',
};
