// A local stand-in for Medium, Substack and LinkedIn: serves saved pages on 127.0.0.1 under each
// platform's URL layout, so crawlers run against real markup with their base URL pointed here. Pages can
// be edited and removed between crawls to exercise versioning and tombstones.
import http from 'node:http';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';

export interface FixtureRoute {
  /** A saved file to serve; read on each request, so a test can also edit it on disk. */
  readonly file?: string;
  readonly body?: string | Uint8Array;
  readonly contentType?: string;
  readonly status?: number;
  readonly headers?: Readonly<Record<string, string>>;
}

/** Answers a request; the request headers let a route answer conditional requests (304). */
export type FixtureHandler = (
  url: URL,
  headers: http.IncomingHttpHeaders,
) => FixtureRoute | Promise<FixtureRoute>;

export interface FixtureRequestLog {
  readonly method: string;
  readonly path: string;
  readonly userAgent: string | undefined;
}

export interface SubstackArchiveEntry {
  readonly slug: string;
  readonly title: string;
  readonly post_date: string;
  readonly [key: string]: unknown;
}

const HTML = 'text/html; charset=utf-8';
const JSON_TYPE = 'application/json; charset=utf-8';

export class FixtureServer {
  private readonly routes = new Map<string, FixtureRoute | FixtureHandler>();
  readonly requests: FixtureRequestLog[] = [];

  private constructor(
    private readonly server: http.Server,
    /** Origin, e.g. http://127.0.0.1:40123 (no trailing slash). */
    readonly url: string,
  ) {}

  static async start(): Promise<FixtureServer> {
    // The handler needs the instance, which needs the port, known only after listen.
    const ref: { current?: FixtureServer } = {};
    const server = http.createServer((req, res) => {
      if (ref.current) void ref.current.handle(req, res);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    ref.current = new FixtureServer(server, `http://127.0.0.1:${port}`);
    return ref.current;
  }

  /** Absolute URL of a path on this server. */
  at(path: string): string {
    return `${this.url}${path.startsWith('/') ? path : `/${path}`}`;
  }

  /** Serves a route at an exact path (query strings are ignored unless a handler reads them). */
  route(path: string, route: FixtureRoute | FixtureHandler): string {
    this.routes.set(path, route);
    return this.at(path);
  }

  /** Replaces the body of a mounted page (an edit on the platform). */
  replace(path: string, body: string | Uint8Array): void {
    const current = this.routes.get(path);
    if (current === undefined) throw new Error(`no route at ${path}`);
    const base = typeof current === 'function' ? {} : current;
    const { file: _file, ...rest } = base;
    this.routes.set(path, { ...rest, body });
  }

  /** Removes a page: answers 404 by default, or 410 Gone. */
  remove(path: string, status: 404 | 410 = 404): void {
    this.routes.set(path, { status, body: status === 410 ? 'Gone' : 'Not Found', contentType: 'text/plain' });
  }

  robots(text: string): string {
    return this.route('/robots.txt', { body: text, contentType: 'text/plain; charset=utf-8' });
  }

  /** Medium article page at /@user/slug-id (medium.com layout). */
  mediumArticle(user: string, slugId: string, page: FixtureRoute): string {
    return this.route(`/@${user}/${slugId}`, { contentType: HTML, ...page });
  }

  /** Medium RSS feed at /feed/@user. */
  mediumFeed(user: string, feed: FixtureRoute): string {
    return this.route(`/feed/@${user}`, { contentType: 'text/xml; charset=UTF-8', ...feed });
  }

  /** Substack post page at /p/<slug>. */
  substackPost(slug: string, page: FixtureRoute): string {
    return this.route(`/p/${slug}`, { contentType: HTML, ...page });
  }

  /** Substack post JSON at /api/v1/posts/<slug>. */
  substackPostApi(slug: string, post: unknown): string {
    return this.route(`/api/v1/posts/${slug}`, { contentType: JSON_TYPE, body: JSON.stringify(post) });
  }

  /**
   * The Substack archive endpoint /api/v1/archive?sort=new&offset=&limit=, paging over the entries
   * (newest first, as Substack sorts them). Returns a function to change the entries later.
   */
  substackArchive(entries: readonly SubstackArchiveEntry[]): (next: readonly SubstackArchiveEntry[]) => void {
    let current = [...entries];
    this.route('/api/v1/archive', (url) => {
      const offset = Math.max(0, Number(url.searchParams.get('offset') ?? '0') || 0);
      const limit = Math.min(50, Math.max(1, Number(url.searchParams.get('limit') ?? '12') || 12));
      const sorted = [...current].sort((a, b) => b.post_date.localeCompare(a.post_date));
      return { contentType: JSON_TYPE, body: JSON.stringify(sorted.slice(offset, offset + limit)) };
    });
    return (next) => {
      current = [...next];
    };
  }

  /** LinkedIn public post at /posts/<id>. */
  linkedinPost(id: string, page: FixtureRoute): string {
    return this.route(`/posts/${id}`, { contentType: HTML, ...page });
  }

  /** LinkedIn Pulse article at /pulse/<slug>. */
  linkedinPulse(slug: string, page: FixtureRoute): string {
    return this.route(`/pulse/${slug}`, { contentType: HTML, ...page });
  }

  /** How many requests reached a path (for "was it fetched?" assertions). */
  hits(path: string): number {
    return this.requests.filter((entry) => entry.path === path).length;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve, reject) => this.server.close((err) => (err ? reject(err) : resolve())));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    this.requests.push({
      method: req.method ?? 'GET',
      path: url.pathname,
      userAgent: req.headers['user-agent'],
    });
    try {
      const found = this.routes.get(url.pathname);
      const route = typeof found === 'function' ? await found(url, req.headers) : found;
      if (route === undefined) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('Not Found');
        return;
      }
      const body = route.file !== undefined ? await readFile(route.file) : (route.body ?? '');
      const payload = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
      res.writeHead(route.status ?? 200, {
        'content-type': route.contentType ?? 'application/octet-stream',
        'content-length': String(payload.byteLength),
        ...route.headers,
      });
      res.end(req.method === 'HEAD' ? undefined : payload);
    } catch (err) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(err instanceof Error ? err.message : 'error');
    }
  }
}
