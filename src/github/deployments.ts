// GitHub deployments for preview environments: one per pushed commit, statuses as the deploy proceeds,
// and deactivation of one PR's environment when it closes — listed by that environment's name only, so
// no other PR's environment is touched.
// https://docs.github.com/en/rest/deployments/deployments
// https://docs.github.com/en/rest/deployments/statuses
import type { GitHubClient } from "./client.js";
import { listPages, PER_PAGE } from "./paginate.js";

type Repos = GitHubClient["rest"]["repos"];

export type DeploymentState = "in_progress" | "success" | "failure" | "error" | "inactive";

/** GitHub keeps deployment status descriptions to 140 characters. */
export const MAX_STATUS_DESCRIPTION = 140;
const MAX_PAGES = 20;

export interface CreateDeployment {
  readonly owner: string;
  readonly repo: string;
  /** The exact commit SHA deployed (never a branch name, which moves). */
  readonly ref: string;
  readonly environment: string;
  readonly transient: boolean;
  readonly production: boolean;
  readonly description: string;
}

export async function createDeployment(
  octokit: { rest: { repos: Pick<Repos, "createDeployment"> } },
  input: CreateDeployment,
): Promise<{ id: number }> {
  if (!/^[0-9a-f]{40}$/.test(input.ref)) {
    throw new TypeError(`createDeployment: ref must be a full commit SHA, got '${input.ref}'`);
  }
  const response = await octokit.rest.repos.createDeployment({
    owner: input.owner,
    repo: input.repo,
    ref: input.ref,
    environment: input.environment,
    // No merge of the default branch into the ref, and no wait on commit statuses: the SHA is what runs.
    auto_merge: false,
    required_contexts: [],
    transient_environment: input.transient,
    production_environment: input.production,
    description: cut(input.description, MAX_STATUS_DESCRIPTION),
  });
  // 202 is GitHub's answer when it merged the default branch in; auto_merge false rules it out.
  if (response.status !== 201 || !("id" in response.data)) {
    throw new Error(`GitHub did not create a deployment of ${input.ref}: ${response.status}`);
  }
  return { id: response.data.id };
}

export interface SetDeploymentStatus {
  readonly owner: string;
  readonly repo: string;
  readonly deploymentId: number;
  readonly state: DeploymentState;
  readonly environmentUrl?: string;
  readonly logUrl?: string;
  /** Cut to 140 characters. */
  readonly description?: string;
}

export async function setDeploymentStatus(
  octokit: { rest: { repos: Pick<Repos, "createDeploymentStatus"> } },
  input: SetDeploymentStatus,
): Promise<{ id: number }> {
  const { data } = await octokit.rest.repos.createDeploymentStatus({
    owner: input.owner,
    repo: input.repo,
    deployment_id: input.deploymentId,
    state: input.state,
    ...(input.environmentUrl !== undefined ? { environment_url: input.environmentUrl } : {}),
    ...(input.logUrl !== undefined ? { log_url: input.logUrl } : {}),
    ...(input.description !== undefined
      ? { description: cut(input.description, MAX_STATUS_DESCRIPTION) }
      : {}),
  });
  return { id: data.id };
}

/** Marks every deployment of `environment` that is not already inactive inactive; returns how many. */
export async function deactivateEnvironment(
  octokit: {
    rest: { repos: Pick<Repos, "listDeployments" | "listDeploymentStatuses" | "createDeploymentStatus"> };
  },
  input: { owner: string; repo: string; environment: string },
): Promise<number> {
  const { owner, repo, environment } = input;
  const { items } = await listPages(
    (page) => octokit.rest.repos.listDeployments({ owner, repo, environment, per_page: PER_PAGE, page }),
    MAX_PAGES,
  );
  let marked = 0;
  for (const deployment of items) {
    // The filter is GitHub's; checked again so a wrong answer can never reach another environment.
    if (deployment.environment !== environment) continue;
    // Statuses are listed newest first: the first is the deployment's state.
    const { data: latest } = await octokit.rest.repos.listDeploymentStatuses({
      owner,
      repo,
      deployment_id: deployment.id,
      per_page: 1,
    });
    if (latest[0]?.state === "inactive") continue;
    await octokit.rest.repos.createDeploymentStatus({
      owner,
      repo,
      deployment_id: deployment.id,
      state: "inactive",
      description: "Preview removed",
    });
    marked += 1;
  }
  return marked;
}

function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  const chars = Array.from(text);
  let out = "";
  for (const ch of chars) {
    if (out.length + ch.length > max - 1) break;
    out += ch;
  }
  return `${out}…`;
}
