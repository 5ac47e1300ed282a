// A GitHub REST API test server for the GitHub client's tests: one repository's pull requests, issue
// comments and their reactions, deployments and their statuses, and collaborators' permissions, kept
// in memory and served on loopback. Every request it receives is checked against GitHub's published
// OpenAPI description (test/support/github-server/openapi.ts): a route or method GitHub does not have,
// a query parameter or body outside the operation's schemas, or a body where it takes none is answered
// 4xx and recorded in `violations` (undeclared parameters and properties are ignored, as GitHub does); every
// answer is built to the operation's response schema and checked too. Faults (5xx, secondary rate
// limits, requests left unanswered) are injected per route with failNext and hangNext.
//
// Behaviour follows https://docs.github.com/en/rest — each handler cites its page.
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { build } from "./github-server/build.js";
import { githubDescription, matchRoute, type Operation } from "./github-server/openapi.js";

export type Permission = "admin" | "maintain" | "write" | "triage" | "read" | "none";

export interface RecordedRequest {
  readonly method: string;
  /** Path with query, as received. */
  readonly path: string;
  /** The description's route template, when the path matched one. */
  readonly route: string | undefined;
  readonly body: unknown;
  status: number;
}

export interface PullRequestSeed {
  readonly number: number;
  readonly headSha: string;
  readonly headRef: string;
  readonly state?: "open" | "closed";
  readonly merged?: boolean;
  /** From a fork; `"deleted"` for a fork whose repository is gone (head.repo null). */
  readonly fork?: boolean | "deleted";
  readonly user?: string;
}

export interface Fault {
  readonly method: string;
  /** OpenAPI route template, e.g. `/repos/{owner}/{repo}/issues/{issue_number}/comments`. */
  readonly route: string;
  readonly status: number;
  readonly headers?: Record<string, string>;
  readonly body?: unknown;
  /** How many matching requests get this answer; default 1. */
  readonly times?: number;
}

export interface CommentState {
  readonly id: number;
  readonly issueNumber: number;
  body: string;
  readonly user: string;
  readonly createdAt: string;
  updatedAt: string;
}

export interface DeploymentState {
  readonly id: number;
  readonly sha: string;
  readonly ref: string;
  readonly environment: string;
  readonly transient: boolean;
  readonly production: boolean;
  readonly description: string | null;
  readonly createdAt: string;
}

export interface StatusState {
  readonly id: number;
  readonly deploymentId: number;
  readonly state: string;
  readonly description: string;
  readonly environmentUrl: string;
  readonly logUrl: string;
  readonly environment: string;
  readonly createdAt: string;
}

export interface GitHubServerOptions {
  readonly owner?: string;
  readonly repo?: string;
  readonly token?: string;
  /** Login the token belongs to: the author of comments and deployments it creates. */
  readonly actor?: string;
}

export interface GitHubServer {
  readonly url: string;
  readonly token: string;
  readonly owner: string;
  readonly repo: string;
  readonly actor: string;
  readonly requests: RecordedRequest[];
  readonly violations: string[];
  setPermission(login: string, permission: Permission): void;
  addPullRequest(seed: PullRequestSeed): void;
  setHead(number: number, sha: string): void;
  /** Comments on an issue or PR, oldest first. */
  comments(issueNumber: number): CommentState[];
  /** Adds a comment as `user` (someone else's comment, for tests). */
  addComment(issueNumber: number, body: string, user?: string): CommentState;
  reactions(commentId: number): { content: string; user: string }[];
  deployments(): DeploymentState[];
  /** Statuses of a deployment, oldest first. */
  statuses(deploymentId: number): StatusState[];
  failNext(fault: Fault): void;
  /** A secondary rate limit answer (403 or 429 with retry-after) for the next matching request. */
  rateLimitNext(fault: { method: string; route: string; status?: 403 | 429; retryAfter?: number }): void;
  /** The next matching request is read and never answered (until close). */
  hangNext(fault: { method: string; route: string }): void;
  close(): Promise<void>;
}

// https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api#exceeding-the-rate-limit
const SECONDARY_RATE_MESSAGE =
  "You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID.";
const DOCS = "https://docs.github.com/rest";

class Answer {
  constructor(
    readonly status: number,
    readonly body?: unknown,
    readonly headers: Record<string, string> = {},
    /** Instance paths where GitHub's real answer departs from its description (each one explained). */
    readonly departures: readonly string[] = [],
  ) {}
}

// Error answers GitHub gives on any route, listed by the operation or not: 401 for bad credentials and
// 404 for a missing resource or one the token may not see.
// https://docs.github.com/en/rest/using-the-rest-api/troubleshooting-the-rest-api#404-not-found-for-an-existing-resource
const ANY_ROUTE_ERRORS = new Set([401, 404]);

export async function startGitHubServer(options: GitHubServerOptions = {}): Promise<GitHubServer> {
  const description = githubDescription();
  const owner = options.owner ?? "octo";
  const repo = options.repo ?? "models";
  const token = options.token ?? `ghs_test${Math.random().toString(36).slice(2, 14)}`;
  const actor = options.actor ?? "github-actions[bot]";
  const requests: RecordedRequest[] = [];
  const violations: string[] = [];
  const permissions = new Map<string, Permission>();
  type PullState = { -readonly [K in keyof PullRequestSeed]-?: NonNullable<PullRequestSeed[K]> };
  const pulls = new Map<number, PullState>();
  const comments = new Map<number, CommentState>();
  const reactions = new Map<number, { id: number; content: string; user: string }[]>();
  const deployments = new Map<number, DeploymentState>();
  const statuses = new Map<number, StatusState[]>();
  const faults: (Fault & { left: number })[] = [];
  const hangs: { method: string; route: string }[] = [];
  const hanging = new Set<ServerResponse>();
  let nextId = 1000;
  let clock = Date.parse("2024-06-01T00:00:00Z");
  const now = () => {
    clock += 1000;
    return new Date(clock).toISOString().replace(/\.\d{3}Z$/, "Z");
  };

  let base = "";
  const api = (p: string) => `${base}${p}`;
  const web = (p: string) => `https://github.test${p}`;
  const user = (login: string) => ({
    login,
    id: 1 + [...login].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 1_000_000, 0),
    type: login.endsWith("[bot]") ? "Bot" : "User",
    url: api(`/users/${encodeURIComponent(login)}`),
    html_url: web(`/${login}`),
  });
  const repository = (full: string, fork: boolean) => {
    const [o = owner, n = repo] = full.split("/");
    return {
      id: full === `${owner}/${repo}` ? 1 : 2,
      name: n,
      full_name: full,
      owner: user(o),
      fork,
      private: false,
      url: api(`/repos/${full}`),
      html_url: web(`/${full}`),
      default_branch: "main",
    };
  };
  const commentJson = (c: CommentState) => ({
    id: c.id,
    body: c.body,
    user: user(c.user),
    created_at: c.createdAt,
    updated_at: c.updatedAt,
    url: api(`/repos/${owner}/${repo}/issues/comments/${c.id}`),
    html_url: web(`/${owner}/${repo}/pull/${c.issueNumber}#issuecomment-${c.id}`),
    issue_url: api(`/repos/${owner}/${repo}/issues/${c.issueNumber}`),
    author_association: c.user === actor ? "NONE" : "CONTRIBUTOR",
  });
  const deploymentJson = (d: DeploymentState) => ({
    id: d.id,
    sha: d.sha,
    ref: d.ref,
    task: "deploy",
    environment: d.environment,
    original_environment: d.environment,
    transient_environment: d.transient,
    production_environment: d.production,
    description: d.description,
    creator: user(actor),
    created_at: d.createdAt,
    updated_at: d.createdAt,
    payload: {},
    url: api(`/repos/${owner}/${repo}/deployments/${d.id}`),
    statuses_url: api(`/repos/${owner}/${repo}/deployments/${d.id}/statuses`),
    repository_url: api(`/repos/${owner}/${repo}`),
  });
  const statusJson = (s: StatusState) => ({
    id: s.id,
    state: s.state,
    description: s.description,
    environment: s.environment,
    environment_url: s.environmentUrl,
    log_url: s.logUrl,
    target_url: s.logUrl,
    creator: user(actor),
    created_at: s.createdAt,
    updated_at: s.createdAt,
    url: api(`/repos/${owner}/${repo}/deployments/${s.deploymentId}/statuses/${s.id}`),
    deployment_url: api(`/repos/${owner}/${repo}/deployments/${s.deploymentId}`),
    repository_url: api(`/repos/${owner}/${repo}`),
  });
  const pullJson = (p: PullState) => {
    const headFull = p.fork ? `${p.user}/${repo}` : `${owner}/${repo}`;
    return {
      number: p.number,
      state: p.state,
      merged: p.merged,
      title: `PR ${p.number}`,
      user: user(p.user),
      url: api(`/repos/${owner}/${repo}/pulls/${p.number}`),
      html_url: web(`/${owner}/${repo}/pull/${p.number}`),
      head: {
        sha: p.headSha,
        ref: p.headRef,
        label: `${headFull.split("/")[0]}:${p.headRef}`,
        repo: p.fork === "deleted" ? null : repository(headFull, p.fork === true),
        user: user(p.user),
      },
      base: {
        sha: "0".repeat(40),
        ref: "main",
        label: `${owner}:main`,
        repo: repository(`${owner}/${repo}`, false),
        user: user(owner),
      },
    };
  };

  /** Pages of `items` as GitHub pages lists: per_page (default 30, at most 100), page, Link header. */
  // https://docs.github.com/en/rest/using-the-rest-api/using-pagination-in-the-rest-api
  const paged = <T>(items: readonly T[], query: URLSearchParams, path: string): Answer => {
    const perPage = Math.min(100, Number(query.get("per_page") ?? 30) || 30);
    const page = Math.max(1, Number(query.get("page") ?? 1) || 1);
    const last = Math.max(1, Math.ceil(items.length / perPage));
    const slice = items.slice((page - 1) * perPage, page * perPage);
    const link = (n: number, rel: string) => {
      const q = new URLSearchParams(query);
      q.set("per_page", String(perPage));
      q.set("page", String(n));
      return `<${api(path)}?${q}>; rel="${rel}"`;
    };
    const links: string[] = [];
    if (page > 1) links.push(link(page - 1, "prev"), link(1, "first"));
    if (page < last) links.push(link(page + 1, "next"), link(last, "last"));
    return new Answer(200, slice, links.length > 0 ? { link: links.join(", ") } : {});
  };
  const notFound = () => new Answer(404, { message: "Not Found", documentation_url: DOCS, status: "404" });

  const handle = (
    op: Operation,
    params: Record<string, string>,
    query: URLSearchParams,
    body: Record<string, unknown>,
    path: string,
  ): Answer => {
    if (params.owner !== owner || params.repo !== repo) return notFound();
    const key = `${op.method} ${op.route}`;
    const id = (name: string) => Number(params[name]);
    switch (key) {
      // https://docs.github.com/en/rest/repos/repos#get-a-repository
      case "GET /repos/{owner}/{repo}":
        return new Answer(200, repository(`${owner}/${repo}`, false));
      // https://docs.github.com/en/rest/pulls/pulls#list-pull-requests (state: open by default)
      case "GET /repos/{owner}/{repo}/pulls": {
        const state = query.get("state") ?? "open";
        const list = [...pulls.values()]
          .filter((p) => state === "all" || p.state === state)
          .sort((a, b) => b.number - a.number)
          .map(pullJson);
        return paged(list, query, path);
      }
      // https://docs.github.com/en/rest/pulls/pulls#get-a-pull-request
      case "GET /repos/{owner}/{repo}/pulls/{pull_number}": {
        const p = pulls.get(id("pull_number"));
        if (!p) return notFound();
        // A PR from a fork that was deleted has `head.repo: null` (the pull_request webhook schema says
        // so); the REST description's pull-request schema does not mark it nullable.
        return new Answer(200, pullJson(p), {}, p.fork === "deleted" ? ["/head/repo"] : []);
      }
      // https://docs.github.com/en/rest/issues/comments#list-issue-comments (ascending by id)
      case "GET /repos/{owner}/{repo}/issues/{issue_number}/comments": {
        const n = id("issue_number");
        if (!pulls.has(n)) return notFound();
        return paged(server.comments(n).map(commentJson), query, path);
      }
      // https://docs.github.com/en/rest/issues/comments#create-an-issue-comment
      case "POST /repos/{owner}/{repo}/issues/{issue_number}/comments": {
        const n = id("issue_number");
        if (!pulls.has(n)) return notFound();
        const text = String(body.body);
        // "body" is limited to 65536 characters; GitHub answers 422 past it.
        if (text.length > 65_536) return invalid("body is too long (maximum is 65536 characters)");
        const c = server.addComment(n, text, actor);
        return new Answer(201, commentJson(c), { location: commentJson(c).url });
      }
      // https://docs.github.com/en/rest/issues/comments#get-an-issue-comment
      case "GET /repos/{owner}/{repo}/issues/comments/{comment_id}": {
        const c = comments.get(id("comment_id"));
        return c ? new Answer(200, commentJson(c)) : notFound();
      }
      // https://docs.github.com/en/rest/issues/comments#update-an-issue-comment
      case "PATCH /repos/{owner}/{repo}/issues/comments/{comment_id}": {
        const c = comments.get(id("comment_id"));
        if (!c) return notFound();
        const text = String(body.body);
        if (text.length > 65_536) return invalid("body is too long (maximum is 65536 characters)");
        c.body = text;
        c.updatedAt = now();
        return new Answer(200, commentJson(c));
      }
      // https://docs.github.com/en/rest/issues/comments#delete-an-issue-comment
      case "DELETE /repos/{owner}/{repo}/issues/comments/{comment_id}": {
        if (!comments.delete(id("comment_id"))) return notFound();
        return new Answer(204);
      }
      // https://docs.github.com/en/rest/reactions/reactions#create-reaction-for-an-issue-comment
      // "A response with an HTTP 200 status means that you already added the reaction type to this issue comment."
      case "POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions": {
        const cid = id("comment_id");
        if (!comments.has(cid)) return notFound();
        const list = reactions.get(cid) ?? [];
        reactions.set(cid, list);
        const content = String(body.content);
        const json = (r: { id: number; content: string; user: string }) => ({
          id: r.id,
          content: r.content,
          user: user(r.user),
          created_at: now(),
          node_id: `REA_${r.id}`,
        });
        const existing = list.find((r) => r.content === content && r.user === actor);
        if (existing) return new Answer(200, json(existing));
        const r = { id: nextId++, content, user: actor };
        list.push(r);
        return new Answer(201, json(r));
      }
      // https://docs.github.com/en/rest/deployments/deployments#list-deployments (newest first)
      case "GET /repos/{owner}/{repo}/deployments": {
        const list = [...deployments.values()]
          .filter((d) => !query.has("environment") || d.environment === query.get("environment"))
          .filter((d) => !query.has("ref") || d.ref === query.get("ref"))
          .filter((d) => !query.has("sha") || d.sha === query.get("sha"))
          .sort((a, b) => b.id - a.id)
          .map(deploymentJson);
        return paged(list, query, path);
      }
      // https://docs.github.com/en/rest/deployments/deployments#create-a-deployment
      case "POST /repos/{owner}/{repo}/deployments": {
        const ref = String(body.ref);
        // Without auto_merge: false GitHub may merge the default branch in first (202); Slipway always
        // sends false, and this server only knows commits by SHA.
        if (body.auto_merge !== false) return invalid("this test server requires auto_merge: false");
        if (!/^[0-9a-f]{40}$/.test(ref)) return new Answer(409, { message: `No ref found for: ${ref}` });
        const environment = typeof body.environment === "string" ? body.environment : "production";
        // transient_environment defaults to false; production_environment to true for "production".
        const d: DeploymentState = {
          id: nextId++,
          sha: ref,
          ref,
          environment,
          transient: body.transient_environment === true,
          production:
            typeof body.production_environment === "boolean"
              ? body.production_environment
              : environment === "production",
          description: typeof body.description === "string" ? body.description : null,
          createdAt: now(),
        };
        deployments.set(d.id, d);
        statuses.set(d.id, []);
        return new Answer(201, deploymentJson(d));
      }
      // https://docs.github.com/en/rest/deployments/deployments#get-a-deployment
      case "GET /repos/{owner}/{repo}/deployments/{deployment_id}": {
        const d = deployments.get(id("deployment_id"));
        return d ? new Answer(200, deploymentJson(d)) : notFound();
      }
      // https://docs.github.com/en/rest/deployments/statuses#list-deployment-statuses (newest first)
      case "GET /repos/{owner}/{repo}/deployments/{deployment_id}/statuses": {
        const list = statuses.get(id("deployment_id"));
        if (!list) return notFound();
        return paged([...list].reverse().map(statusJson), query, path);
      }
      // https://docs.github.com/en/rest/deployments/statuses#create-a-deployment-status
      case "POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses": {
        const d = deployments.get(id("deployment_id"));
        const list = statuses.get(id("deployment_id"));
        if (!d || !list) return notFound();
        const description = typeof body.description === "string" ? body.description : "";
        if (description.length > 140) return invalid("description is too long (maximum is 140 characters)");
        const logUrl = String(body.log_url ?? body.target_url ?? "");
        const s: StatusState = {
          id: nextId++,
          deploymentId: d.id,
          state: String(body.state),
          description,
          environmentUrl: String(body.environment_url ?? ""),
          logUrl,
          environment: typeof body.environment === "string" ? body.environment : d.environment,
          createdAt: now(),
        };
        list.push(s);
        // auto_inactive (default true): "Adds a new `inactive` status to all prior non-transient,
        // non-production environment deployments with the same repository and `environment` name as the
        // created status's deployment. An `inactive` status is only added to deployments that had a
        // `success` state." (the operation's requestBody description, and the page above)
        if (s.state === "success" && body.auto_inactive !== false) {
          for (const prior of deployments.values()) {
            if (prior.id >= d.id || prior.environment !== d.environment) continue;
            if (prior.transient || prior.production) continue;
            const ps = statuses.get(prior.id) ?? [];
            if (ps.at(-1)?.state !== "success") continue;
            ps.push({ ...s, id: nextId++, deploymentId: prior.id, state: "inactive", createdAt: now() });
          }
        }
        return new Answer(201, statusJson(s), { location: statusJson(s).url });
      }
      // https://docs.github.com/en/rest/collaborators/collaborators#get-repository-permissions-for-a-user
      // `permission` holds the legacy base role: maintain is reported as write, triage as read.
      case "GET /repos/{owner}/{repo}/collaborators/{username}/permission": {
        const login = params.username ?? "";
        const role = permissions.get(login);
        if (!role) return notFound();
        const legacy = role === "maintain" ? "write" : role === "triage" ? "read" : role;
        return new Answer(200, { permission: legacy, role_name: role, user: user(login) });
      }
      default:
        return new Answer(501, { message: `test server: ${key} is not implemented` });
    }
  };
  const invalid = (message: string) =>
    new Answer(422, {
      message: "Validation Failed",
      errors: [{ message }],
      documentation_url: DOCS,
      status: "422",
    });

  const violate = (line: string) => {
    violations.push(line);
  };

  const http = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      serve(req, res, raw);
    });
  });

  const send = (res: ServerResponse, rec: RecordedRequest, answer: Answer) => {
    rec.status = answer.status;
    const headers: Record<string, string> = {
      "x-github-api-version-selected": "2022-11-28",
      "x-ratelimit-limit": "5000",
      "x-ratelimit-remaining": "4999",
      ...answer.headers,
    };
    if (answer.body === undefined) {
      res.writeHead(answer.status, headers).end();
      return;
    }
    headers["content-type"] = "application/json; charset=utf-8";
    res.writeHead(answer.status, headers).end(JSON.stringify(answer.body));
  };

  const serve = (req: IncomingMessage, res: ServerResponse, raw: string) => {
    const method = (req.method ?? "GET").toUpperCase();
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const match = matchRoute(description.routes, url.pathname);
    let body: unknown;
    let bodyError: string | undefined;
    if (raw !== "") {
      try {
        body = JSON.parse(raw);
      } catch {
        bodyError = "body is not JSON";
      }
    }
    const rec: RecordedRequest = {
      method,
      path: `${url.pathname}${url.search}`,
      route: match?.route,
      body,
      status: 0,
    };
    requests.push(rec);
    const where = `${method} ${url.pathname}${url.search}`;

    // https://docs.github.com/en/rest/authentication/authenticating-to-the-rest-api
    const auth = req.headers.authorization ?? "";
    if (auth !== `token ${token}` && auth !== `Bearer ${token}`) {
      send(res, rec, new Answer(401, { message: "Bad credentials", documentation_url: DOCS, status: "401" }));
      return;
    }
    if (!match || !description.routes.get(match.route)?.has(method)) {
      violate(`${where}: no such operation in GitHub's REST description`);
      send(res, rec, notFound());
      return;
    }
    const op = description.operation(method, match.route);
    if (!op) {
      violate(`${where}: ${method} ${match.route} exists but the test server does not implement it`);
      send(res, rec, new Answer(501, { message: "not implemented by the test server" }));
      return;
    }
    const problems = checkRequest(op, url.searchParams, body, bodyError);
    if (problems.length > 0) {
      for (const p of problems) violate(`${where} (${op.operationId}): ${p}`);
      send(res, rec, invalid(problems.join("; ")));
      return;
    }

    const hang = hangs.findIndex((h) => h.method === method && h.route === op.route);
    if (hang >= 0) {
      hangs.splice(hang, 1);
      hanging.add(res);
      rec.status = -1;
      return;
    }
    const fault = faults.find((f) => f.method === method && f.route === op.route && f.left > 0);
    if (fault) {
      fault.left -= 1;
      send(
        res,
        rec,
        new Answer(fault.status, fault.body ?? { message: "fault injected" }, fault.headers ?? {}),
      );
      return;
    }

    const answer = handle(
      op,
      match.params,
      url.searchParams,
      (body ?? {}) as Record<string, unknown>,
      url.pathname,
    );
    let out = answer;
    if (answer.body !== undefined && answer.status < 500) {
      const schema = op.responses.get(String(answer.status));
      if (!op.responses.has(String(answer.status)) && !ANY_ROUTE_ERRORS.has(answer.status)) {
        violate(`${where} (${op.operationId}): the description has no ${answer.status} answer`);
      } else if (schema) {
        const built = build(schema, answer.body);
        const validate = description.validator(schema);
        const errors = validate(built)
          ? []
          : (validate.errors ?? []).filter((e) => !answer.departures.includes(e.instancePath));
        if (errors.length > 0) {
          violate(
            `${where} (${op.operationId}): ${answer.status} answer does not match: ${describe(errors)}`,
          );
        }
        out = new Answer(answer.status, built, answer.headers);
      }
    }
    send(res, rec, out);
  };

  const checkRequest = (
    op: Operation,
    query: URLSearchParams,
    body: unknown,
    bodyError: string | undefined,
  ) => {
    const problems: string[] = [];
    const known = new Map(op.parameters.filter((p) => p.in === "query").map((p) => [p.name, p]));
    // Parameters and body properties the operation does not declare are ignored, as GitHub ignores
    // them: refusing them here would refuse requests GitHub answers.
    for (const [name, value] of query) {
      const param = known.get(name);
      if (!param) continue;
      if (param.schema) {
        const t = param.schema.type;
        const v: unknown =
          t === "integer" || t === "number" ? Number(value) : t === "boolean" ? value === "true" : value;
        const validate = description.validator(param.schema);
        if (!validate(v)) problems.push(`query parameter '${name}'='${value}': ${describe(validate.errors)}`);
      }
    }
    if (bodyError) problems.push(bodyError);
    else if (body !== undefined) {
      if (!op.requestBody) problems.push("the operation takes no body");
      else {
        const validate = description.validator(op.requestBody);
        if (!validate(body))
          problems.push(`body does not match the operation's schema: ${describe(validate.errors)}`);
      }
    } else if (op.requestBodyRequired) problems.push("the operation requires a body");
    return problems;
  };

  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const { port } = http.address() as AddressInfo;
  base = `http://127.0.0.1:${port}`;

  const server: GitHubServer = {
    url: base,
    token,
    owner,
    repo,
    actor,
    requests,
    violations,
    setPermission: (login, permission) => void permissions.set(login, permission),
    addPullRequest: (seed) =>
      void pulls.set(seed.number, {
        state: "open",
        merged: false,
        user: "contributor",
        ...seed,
        fork: seed.fork ?? false,
      }),
    setHead(number, sha) {
      const p = pulls.get(number);
      if (!p) throw new Error(`no pull request ${number}`);
      p.headSha = sha;
    },
    comments: (n) => [...comments.values()].filter((c) => c.issueNumber === n).sort((a, b) => a.id - b.id),
    addComment(issueNumber, text, login = "someone") {
      const at = now();
      const c: CommentState = {
        id: nextId++,
        issueNumber,
        body: text,
        user: login,
        createdAt: at,
        updatedAt: at,
      };
      comments.set(c.id, c);
      return c;
    },
    reactions: (cid) => (reactions.get(cid) ?? []).map(({ content, user: u }) => ({ content, user: u })),
    deployments: () => [...deployments.values()].sort((a, b) => a.id - b.id),
    statuses: (did) => [...(statuses.get(did) ?? [])],
    failNext: (fault) => void faults.push({ ...fault, left: fault.times ?? 1 }),
    rateLimitNext: ({ method, route, status = 403, retryAfter = 1 }) =>
      void faults.push({
        method,
        route,
        status,
        left: 1,
        headers: { "retry-after": String(retryAfter) },
        body: {
          message: SECONDARY_RATE_MESSAGE,
          documentation_url:
            "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
        },
      }),
    hangNext: (h) => void hangs.push(h),
    close: () =>
      new Promise<void>((resolve) => {
        for (const res of hanging) res.destroy();
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  };
  return server;
}

function describe(errors: readonly { instancePath: string; message?: string }[] | null | undefined): string {
  return (errors ?? [])
    .slice(0, 5)
    .map((e) => `${e.instancePath || "/"} ${e.message ?? ""}`.trim())
    .join("; ");
}
