// The one error a failed GitHub call becomes: a single line naming the request (method and route
// template, never the expanded URL's query or any header) and GitHub's status and words.

export class GitHubRequestError extends Error {
  override readonly name = "GitHubRequestError";
  /** HTTP status GitHub answered with; undefined when no answer came (network error, timeout). */
  readonly status: number | undefined;
  readonly method: string;
  readonly route: string;

  constructor(method: string, route: string, status: number | undefined, detail: string) {
    const answer = status === undefined ? "got no answer" : `answered ${status}`;
    super(`GitHub ${method} ${route} ${answer}${detail ? `: ${detail}` : ""}`);
    this.status = status;
    this.method = method;
    this.route = route;
  }
}

export function isNotFound(error: unknown): boolean {
  return error instanceof GitHubRequestError && error.status === 404;
}
