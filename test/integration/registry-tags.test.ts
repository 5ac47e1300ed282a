// The registry client's housekeeping pair against real distribution registries on loopback: a
// repository's tags (distribution 2.8 sends them whole; a loopback stand-in paginates as the OCI
// distribution spec's "Listing Tags" says, and is read page by page through its Link), a manifest
// deleted by digest (202, then 404 "absent"), a registry with deletion disabled (405 UNSUPPORTED:
// "not-allowed", not an error), and a Link to another host never followed.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRegistryClient, OCI_MANIFEST, type RegistryClient } from "../../src/registry/index.js";
import { blob, oneLayerManifest } from "../support/blobs.js";
import { type HostileServer, startHostileServer } from "../support/hostile-registry.js";
import { type RegistryInstance, startRegistry } from "../support/registry-instance.js";

let deleting: RegistryInstance;
let keeping: RegistryInstance;
const servers: HostileServer[] = [];

function client(): RegistryClient {
  return createRegistryClient({ timeoutMs: 10_000, retries: 2, retryBaseDelayMs: 5 });
}

/** Pushes one image under each tag; tags in one group share a manifest (same content). */
async function push(registry: string, repository: string, groups: string[][]): Promise<string[]> {
  const c = client();
  const digests: string[] = [];
  for (const tags of groups) {
    const layer = blob(randomBytes(2_000));
    const config = blob(Buffer.from(JSON.stringify({ os: "linux", rootfs: { type: "layers" } })));
    await c.ensureBlob({ registry, repository }, layer);
    await c.ensureBlob({ registry, repository }, config);
    const bytes = oneLayerManifest(config, layer);
    for (const tag of tags)
      digests.push(await c.putManifest({ registry, repository, tag }, OCI_MANIFEST, bytes));
  }
  return digests;
}

beforeAll(async () => {
  deleting = await startRegistry();
  keeping = await startRegistry({ deleteEnabled: false });
});

afterAll(async () => {
  await Promise.all([deleting?.stop(), keeping?.stop(), ...servers.map((s) => s.close())]);
});

describe("listTags", () => {
  it("reads every tag from a registry that sends them all at once (distribution 2.8 ignores `n`)", async () => {
    const tags = ["v01", "v02", "v03", "v04", "v05"];
    await push(deleting.host, "acme/whole", [tags]);
    const first = await fetch(`http://${deleting.host}/v2/acme/whole/tags/list?n=2`);
    expect(first.headers.get("link")).toBeNull();
    const c = client();
    expect(await c.listTags({ registry: deleting.host, repository: "acme/whole" }, { pageSize: 2 })).toEqual(
      tags,
    );
  });

  it("follows a paginating registry's Link page by page (the spec's `n`, `last` and rel=\"next\")", async () => {
    const all = ["v1", "v2", "v3", "v4", "v5", "v6", "v7"];
    // As the spec describes it: tags after `last`, lexically, at most `n`, and a Link while more remain.
    const server = await startHostileServer({
      handle: (req, res) => {
        const url = new URL(req.url, "http://x");
        const n = Number(url.searchParams.get("n") ?? all.length);
        const last = url.searchParams.get("last");
        const page = all.filter((t) => last === null || t > last).slice(0, n);
        const more = all.some((t) => t > (page.at(-1) ?? ""));
        const headers: Record<string, string> = { "content-type": "application/json" };
        if (more) headers.link = `<${url.pathname}?n=${n}&last=${page.at(-1)}>; rel="next"`;
        res.writeHead(200, headers).end(JSON.stringify({ name: "acme/paged", tags: page }));
      },
    });
    servers.push(server);
    const c = client();
    expect(await c.listTags({ registry: server.host, repository: "acme/paged" }, { pageSize: 2 })).toEqual(
      all,
    );
    expect(server.requests.map((r) => r.url)).toEqual([
      "/v2/acme/paged/tags/list?n=2",
      "/v2/acme/paged/tags/list?n=2&last=v2",
      "/v2/acme/paged/tags/list?n=2&last=v4",
      "/v2/acme/paged/tags/list?n=2&last=v6",
    ]);
  });

  it("a repository nothing was pushed to has no tags", async () => {
    expect(await client().listTags({ registry: deleting.host, repository: "acme/never" })).toEqual([]);
  });

  it("does not follow a Link to another host, nor one that loops", async () => {
    const other = await startHostileServer({
      address: "127.0.0.2",
      handle: (_req, res) => {
        res.writeHead(500).end();
      },
    });
    servers.push(other);
    const server = await startHostileServer({
      handle: (req, res) => {
        const looping = req.url.startsWith("/v2/loop/");
        const next = looping
          ? "/v2/loop/tags/list?n=1&last=a"
          : `http://${other.host}/v2/away/tags/list?last=a`;
        res
          .writeHead(200, { "content-type": "application/json", link: `<${next}>; rel="next"` })
          .end(JSON.stringify({ name: "x", tags: ["a"] }));
      },
    });
    servers.push(server);
    const c = client();
    await expect(c.listTags({ registry: server.host, repository: "away" })).rejects.toThrow(
      /linked the next page at http:\/\/127\.0\.0\.2:\d+\/v2\/away\/tags\/list, not its own \/v2\/away\/tags\/list/,
    );
    expect(other.requests).toEqual([]);
    expect(await c.listTags({ registry: server.host, repository: "loop" })).toEqual(["a"]);
    expect(server.requests.filter((r) => r.url.startsWith("/v2/loop/"))).toHaveLength(2);
  });
});

describe("deleteManifest", () => {
  it("deletes by digest (every tag naming it goes), and a second delete finds it absent", async () => {
    const [shared, , other] = await push(deleting.host, "acme/del", [["a", "b"], ["c"]]);
    const c = client();
    const where = { registry: deleting.host, repository: "acme/del" };
    expect(await c.deleteManifest(where, shared ?? "")).toEqual({ deleted: true });
    expect(await c.listTags(where)).toEqual(["c"]);
    expect(await c.deleteManifest(where, shared ?? "")).toEqual({
      deleted: false,
      reason: "absent",
      message: expect.stringMatching(/^HTTP 404/),
    });
    expect((await c.getManifest({ ...where, tag: "c" })).digest).toBe(other);
  });

  it("a registry that does not delete answers 405 UNSUPPORTED: not allowed, and the image stays", async () => {
    const [digest] = await push(keeping.host, "acme/kept", [["a"]]);
    const c = client();
    const where = { registry: keeping.host, repository: "acme/kept" };
    expect(await c.deleteManifest(where, digest ?? "")).toEqual({
      deleted: false,
      reason: "not-allowed",
      message: expect.stringMatching(/^HTTP 405 UNSUPPORTED/),
    });
    expect(await c.listTags(where)).toEqual(["a"]);
  });
});
