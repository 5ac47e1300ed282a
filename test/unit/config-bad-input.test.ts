// Every malformed config is refused with the expected message at the expected place.
import { describe, expect, it } from "vitest";
import { formatProblem } from "../../src/config/errors.js";
import { parseConfig } from "../../src/config/parse.js";

const ok = ["- endpoint:", "    name: good-one", "    image: python:3.11", "    wsgi: app"];

interface Case {
  name: string;
  input: string | Uint8Array;
  line: number;
  column: number;
  message: string | RegExp;
}

const lines = (...l: string[]) => `${l.join("\n")}\n`;
/** The good endpoint and a deployment entry with the given lines. */
const dep = (...l: string[]) => lines(...ok, "- deployment:", "    name: demo", ...l);

const cases: Case[] = [
  {
    name: "YAML: unclosed flow mapping",
    input: lines("- endpoint: {name: a, image: b"),
    line: 2,
    column: 1,
    message: /YAML syntax: .*flow/i,
  },
  {
    name: "YAML: tab indentation",
    input: lines("- endpoint:", "\tname: a"),
    line: 2,
    column: 1,
    message: /YAML syntax: .*tab/i,
  },
  {
    name: "YAML: duplicate key",
    input: lines(...ok, "    image: other"),
    line: 5,
    column: 5,
    message: "YAML syntax: Map keys must be unique",
  },
  { name: "empty file", input: "", line: 1, column: 1, message: "config file is empty" },
  {
    name: "only comments",
    input: lines("# nothing here", "# yet"),
    line: 1,
    column: 1,
    message: "config file has no entries",
  },
  {
    name: "top level is a mapping",
    input: lines("endpoint:", "  name: a"),
    line: 1,
    column: 1,
    message: "the config must be a list of entries such as '- endpoint: …', got a mapping",
  },
  { name: "top level is a scalar", input: lines("hello"), line: 1, column: 1, message: "got a single value" },
  {
    name: "entry is a bare word",
    input: lines("- endpoint"),
    line: 1,
    column: 3,
    message: "entry #1 must be a mapping with one key",
  },
  {
    name: "entry with two kinds",
    input: lines("- endpoint: {name: ab, image: x, wsgi: app}", "  step: {name: s}"),
    line: 2,
    column: 3,
    message: "entry #1 has 2 keys (endpoint, step)",
  },
  {
    name: "endpoint without settings",
    input: lines("- endpoint:"),
    line: 1,
    column: 3,
    message: "'endpoint' must be a mapping of its settings, got nothing",
  },
  {
    name: "endpoint is a list",
    input: lines("- endpoint:", "    - name: a"),
    line: 2,
    column: 5,
    message: "'endpoint' must be a mapping of its settings, got a single value or list",
  },
  {
    name: "missing image",
    input: lines("- endpoint:", "    name: no-image", "    wsgi: app"),
    line: 2,
    column: 5,
    message: "endpoint 'no-image': missing required key 'image'",
  },
  {
    name: "missing name",
    input: lines("- endpoint:", "    image: x", "    wsgi: app"),
    line: 2,
    column: 5,
    message: "endpoint #1: missing required key 'name'",
  },
  {
    name: "name with capital letter",
    input: lines("- endpoint:", "    name: Server-endpoint", "    image: x", "    wsgi: app"),
    line: 2,
    column: 11,
    message: "name 'Server-endpoint' is invalid: it must be lowercase, start with a letter",
  },
  {
    name: "name starting with a digit",
    input: lines("- endpoint:", "    name: 3-server-endpoint", "    image: x", "    wsgi: app"),
    line: 2,
    column: 11,
    message: "name '3-server-endpoint' is invalid",
  },
  {
    name: "name with @",
    input: lines("- endpoint:", "    name: server@endpoint", "    image: x", "    wsgi: app"),
    line: 2,
    column: 11,
    message: "name 'server@endpoint' is invalid",
  },
  {
    name: "name with underscore",
    input: lines("- endpoint:", "    name: wsgi_endpoint", "    image: x", "    wsgi: app"),
    line: 2,
    column: 11,
    message: "name 'wsgi_endpoint' is invalid",
  },
  {
    name: "name of one letter",
    input: lines("- endpoint:", "    name: a", "    image: x", "    wsgi: app"),
    line: 2,
    column: 11,
    message: "name 'a' is invalid",
  },
  {
    name: "both server-command and wsgi",
    input: lines(...ok, "    server-command: python serve.py"),
    line: 5,
    column: 5,
    message: "endpoint 'good-one': has both 'server-command' and 'wsgi'",
  },
  {
    name: "neither server-command nor wsgi",
    input: lines("- endpoint:", "    name: idle", "    image: x"),
    line: 1,
    column: 3,
    message: "endpoint 'idle': needs a way to start its server",
  },
  {
    name: "port 80",
    input: lines(...ok, "    port: 80"),
    line: 5,
    column: 11,
    message: "port 80 is out of range: use a port from 1025 to 65535",
  },
  {
    name: "port 70000",
    input: lines(...ok, "    port: 70000"),
    line: 5,
    column: 11,
    message: "port 70000 is out of range",
  },
  {
    name: "port as a string",
    input: lines(...ok, '    port: "8000"'),
    line: 5,
    column: 11,
    message: `'port' must be a whole number, got string "8000"`,
  },
  {
    name: "port with a fraction",
    input: lines(...ok, "    port: 8000.5"),
    line: 5,
    column: 11,
    message: "'port' must be a whole number, got number 8000.5",
  },
  {
    name: "server-command is a number",
    input: lines("- endpoint:", "    name: cmd", "    image: x", "    server-command: 42"),
    line: 4,
    column: 21,
    message: "'server-command' must be a command string or a list of command strings",
  },
  {
    name: "server-command list with a number",
    input: lines(
      "- endpoint:",
      "    name: cmd",
      "    image: x",
      "    server-command:",
      "      - python serve.py",
      "      - 7",
    ),
    line: 6,
    column: 9,
    message: "'server-command[1]' must be a string, got number 7",
  },
  {
    name: "server-command empty list",
    input: lines("- endpoint:", "    name: cmd", "    image: x", "    server-command: []"),
    line: 4,
    column: 21,
    message: "'server-command' must not be empty",
  },
  {
    name: "wsgi with a dash in the module",
    input: lines("- endpoint:", "    name: w", "    image: x", "    wsgi: my-app:app").replace(
      "name: w",
      "name: ww",
    ),
    line: 4,
    column: 11,
    message: "wsgi 'my-app:app' is invalid",
  },
  {
    name: "files is a mapping",
    input: lines(...ok, "    files:", "      model: m.pb"),
    line: 6,
    column: 7,
    message: "'files' must be a list, got a mapping",
  },
  {
    name: "file without path",
    input: lines(...ok, "    files:", "      - name: model"),
    line: 6,
    column: 9,
    message: "missing required key 'path' in 'files[0]'",
  },
  {
    name: "file path escaping the repo",
    input: lines(...ok, "    files:", "      - name: model", "        path: models/../../secret.pb"),
    line: 7,
    column: 15,
    message: "file path 'models/../../secret.pb' points outside the repository",
  },
  {
    name: "absolute file path",
    input: lines(...ok, "    files:", "      - name: model", "        path: /etc/passwd"),
    line: 7,
    column: 15,
    message: "file path '/etc/passwd' is absolute",
  },
  {
    name: "file with unknown key",
    input: lines(...ok, "    files:", "      - name: model", "        path: m.pb", "        descripton: x"),
    line: 8,
    column: 9,
    message: "unknown key 'descripton' in 'files[0]'; did you mean 'description'?",
  },
  {
    name: "duplicate endpoint names",
    input: lines(...ok, ...ok),
    line: 6,
    column: 11,
    message:
      "duplicate endpoint name 'good-one' (first defined at valohai.yaml:1:3); Valohai silently keeps the last definition",
  },
  {
    name: "misspelt key",
    input: lines("- endpoint:", "    name: cmd", "    image: x", "    serve-command: python s.py"),
    line: 4,
    column: 5,
    message: "unknown key 'serve-command'; did you mean 'server-command'?",
  },
  {
    name: "cpu min above max",
    input: lines(...ok, "    resources:", "      cpu: {min: 2, max: 1}"),
    line: 6,
    column: 18,
    message: "resources.cpu.min (2) is greater than its max (1)",
  },
  {
    name: "memory as text",
    input: lines(...ok, "    resources:", "      memory:", "        max: 1Gi"),
    line: 7,
    column: 14,
    message: `'resources.memory.max' must be a number, got string "1Gi"`,
  },
  {
    name: "zero GPUs",
    input: lines(...ok, "    resources:", "      devices:", "        nvidia.com/gpu: 0"),
    line: 7,
    column: 25,
    message: "'resources.devices.nvidia.com/gpu' must be >= 1, got 0",
  },
  {
    name: "node-selector without =",
    input: lines(...ok, "    node-selector: gpu"),
    line: 5,
    column: 20,
    message: "node-selector 'gpu' is invalid: write it as 'key=value'",
  },
  {
    name: "toleration with an unknown operator",
    input: lines(...ok, "    tolerations:", "      - key: k", "        operator: Equals"),
    line: 7,
    column: 19,
    message:
      "'tolerations[0].operator' must be one of 'Exists', 'Equal', got string \"Equals\"; did you mean 'Equal'?",
  },
  {
    name: "toleration without key or Exists",
    input: lines(...ok, "    tolerations:", "      - effect: NoSchedule"),
    line: 6,
    column: 9,
    message: "tolerations[0] has no 'key'; a toleration without a key must use 'operator: Exists'",
  },
  {
    name: "empty image",
    input: lines("- endpoint:", "    name: cmd", '    image: ""', "    wsgi: app"),
    line: 3,
    column: 12,
    message: "'image' must not be empty",
  },
  {
    name: "misspelt entry kind alone",
    input: lines("- endpont:", "    name: cmd"),
    line: 1,
    column: 1,
    message: "the config has no 'endpoint' entries: there is nothing to deploy",
  },
  {
    name: "deployment requiring an unknown environment",
    input: lines(
      ...ok,
      "- deployment:",
      "    name: demo",
      "    environments:",
      "      staging: {}",
      "      production:",
      "        requires: [stagin]",
    ),
    line: 10,
    column: 20,
    message: "environment 'production' requires unknown environment 'stagin'; did you mean 'staging'?",
  },
  {
    name: "deployment with a bad base-url",
    input: lines(...ok, "- deployment:", "    name: demo", "    base-url: ml.example.com"),
    line: 7,
    column: 15,
    message: "base-url 'ml.example.com' is invalid",
  },
  {
    name: "two deployment entries",
    input: lines(...ok, "- deployment: {name: one}", "- deployment: {name: two}"),
    line: 6,
    column: 3,
    message: "a second 'deployment' entry (the first is at line 5)",
  },
  {
    name: "preview TTL that is not a duration",
    input: lines(...ok, "- deployment:", "    name: demo", "    preview: {ttl: 3 days}"),
    line: 7,
    column: 20,
    message: "'3 days' is not a duration",
  },
  {
    name: "environment named like a preview alias",
    input: lines(...ok, "- deployment:", "    name: demo", "    environments:", "      pr-7: {}"),
    line: 8,
    column: 7,
    message: "environment 'pr-7' looks like a preview alias",
  },
  {
    name: "file over 2 MiB",
    input: `${lines(...ok)}${"# padding\n".repeat(1_048_576)}`,
    line: 1,
    column: 1,
    message: "config file is 10.0 MiB; Slipway reads config files of at most 2 MiB",
  },
  {
    name: "bytes that are not UTF-8",
    input: Buffer.concat([
      Buffer.from(lines(...ok, "    description: caf").trimEnd()),
      Buffer.from([0xe9, 0x0a]),
    ]),
    line: 5,
    column: 21,
    message: "config file is not valid UTF-8",
  },
  {
    name: "alias bomb",
    input: lines(
      "- step: &a [x, x, x, x, x, x, x, x, x]",
      "- step: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]",
      "- step: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]",
      "- endpoint:",
      "    name: bomb",
      "    image: x",
      "    wsgi: app",
      "    description: [*c, *c, *c, *c, *c, *c, *c, *c, *c]",
    ),
    line: 8,
    column: 19,
    message: "YAML aliases here expand to more than 100 nodes",
  },
  // Hostile input: each of these once crashed, hung, cost superlinear time or slipped through.
  // Work bounds for the ones that were about time are stated in config-work-bounds.test.ts.
  {
    name: "preview alias that is not a valid regular expression (once a crash losing every other problem)",
    input: dep("    preview: {alias: 'pr-({number}'}", "    environments: {staging: {}}"),
    line: 7,
    column: 22,
    message:
      "preview alias 'pr-({number}' is invalid: with a pull request number in place of '{number}' it must be a DNS label",
  },
  {
    name: "preview alias with catastrophic backtracking (once a hang)",
    input: dep("    preview: {alias: '(a|a)*{number}'}", "    environments:", `      ${"a".repeat(34)}: {}`),
    line: 7,
    column: 22,
    message: "preview alias '(a|a)*{number}' is invalid",
  },
  {
    name: "preview alias without {number}",
    input: dep("    preview: {alias: preview}"),
    line: 7,
    column: 22,
    message: "preview alias 'preview' must contain '{number}' exactly once (found 0)",
  },
  {
    name: "preview alias with {number} twice",
    input: dep("    preview: {alias: 'pr-{number}-{number}'}"),
    line: 7,
    column: 22,
    message: "preview alias 'pr-{number}-{number}' must contain '{number}' exactly once (found 2)",
  },
  {
    name: "preview alias ending with a dash",
    input: dep("    preview: {alias: 'pr-{number}-'}"),
    line: 7,
    column: 22,
    message: "preview alias 'pr-{number}-' is invalid",
  },
  {
    name: "preview alias too long for a DNS label once numbered",
    input: dep(`    preview: {alias: 'p${"r".repeat(60)}{number}'}`),
    line: 7,
    column: 22,
    message: "it must be a DNS label of at most 63 characters",
  },
  {
    name: "250,000 U+FFFD then a byte that is not UTF-8 (once quadratic: 24 s)",
    input: Buffer.concat([
      Buffer.from(lines(...ok, `    description: ${"\uFFFD".repeat(250_000)}`).trimEnd()),
      Buffer.from([0xff, 0x0a]),
    ]),
    line: 5,
    column: 250_018,
    message: "config file is not valid UTF-8",
  },
  {
    name: "overlong UTF-8 encoding",
    input: Buffer.concat([
      Buffer.from(lines(...ok, "    description: a").trimEnd()),
      Buffer.from([0xc0, 0xaf, 0x0a]),
    ]),
    line: 5,
    column: 19,
    message: "config file is not valid UTF-8",
  },
  {
    name: "UTF-8 sequence cut off at the end of the file",
    input: Buffer.concat([
      Buffer.from(lines(...ok, "    description: a").trimEnd()),
      Buffer.from([0xe2, 0x82]),
    ]),
    line: 5,
    column: 19,
    message: "config file is not valid UTF-8",
  },
  {
    name: "UTF-16 surrogate encoded in UTF-8",
    input: Buffer.concat([
      Buffer.from(lines(...ok, "    description: a").trimEnd()),
      Buffer.from([0xed, 0xa0, 0x80, 0x0a]),
    ]),
    line: 5,
    column: 19,
    message: "config file is not valid UTF-8",
  },
  {
    name: "NUL byte in a scalar",
    input: lines(...ok, "    description: a\u0000b"),
    line: 5,
    column: 19,
    message: "config file contains the control character U+0000 (NUL), which YAML does not allow in a file",
  },
  {
    name: "terminal escape sequence in a scalar",
    input: lines(...ok, "    description: \u001b[31mred"),
    line: 5,
    column: 18,
    message: "config file contains the control character U+001B (ESC)",
  },
  {
    name: "NUL written as an escape in a double-quoted scalar",
    input: lines(...ok, '    description: "a\\0b"'),
    line: 5,
    column: 18,
    message: "a value holds a NUL character ('\\0'), which no setting can contain",
  },
  {
    name: "10,000 nested flow lists (once a stack overflow reported at a meaningless place)",
    input: lines(...ok, `    description: ${"[".repeat(10_000)}${"]".repeat(10_000)}`),
    line: 5,
    column: 18 + 61,
    message: "YAML nesting here goes deeper than 64 levels",
  },
  {
    name: "70 nested block lists",
    input: lines(
      ...ok,
      "    description:",
      ...Array.from({ length: 70 }, (_, i) => `${" ".repeat(6 + 2 * i)}-`),
    ),
    line: 6 + 61,
    column: 7 + 2 * 61,
    message: "YAML nesting here goes deeper than 64 levels",
  },
  {
    name: "aliases that nest deeper than the limit once expanded",
    input: lines(
      "- step:",
      `    a: &deep ${"[".repeat(40)}x${"]".repeat(40)}`,
      `    b: &deeper ${"[".repeat(30)}*deep${"]".repeat(30)}`,
      ...ok,
    ),
    line: 3,
    column: 46,
    message: "YAML alias '*deep' here expands to nesting deeper than 64 levels",
  },
  {
    name: "alias of the node it is in",
    input: lines(...ok, "    description: &loop [*loop]"),
    line: 5,
    column: 25,
    message: "YAML alias '*loop' refers to a node it is part of",
  },
  {
    name: "aliases of one anchor past the entry's budget",
    input: lines("- step: &one x", ...ok, "    files:", ...Array.from({ length: 200 }, () => "      - *one")),
    line: 7 + 100,
    column: 9,
    message: "YAML aliases here expand to more than 100 nodes",
  },
  {
    name: "a list as a mapping key",
    input: lines(...ok, "- step: {[a, b]: c}"),
    line: 5,
    column: 10,
    message: "a mapping key must be a plain value, not a list or a mapping",
  },
  {
    name: "duplicate key among 5,000",
    input: lines(
      "- step:",
      ...Array.from({ length: 5000 }, (_, i) => `    k${i}: v`),
      "    k17: again",
      ...ok,
    ),
    line: 5002,
    column: 5,
    message: "YAML syntax: Map keys must be unique",
  },
  {
    name: "two YAML documents",
    input: lines(...ok, "---", ...ok),
    line: 5,
    column: 1,
    message: "a second YAML document starts here; a valohai.yaml is one document",
  },
  {
    name: "a custom tag",
    input: lines(...ok, "    description: !custom hello"),
    line: 5,
    column: 18,
    message: "YAML tag: Unresolved tag: !custom; a valohai.yaml uses no custom tags",
  },
  {
    name: "a merge key with a scalar",
    input: lines("- endpoint:", "    <<: 1", "    name: ww", "    image: x", "    wsgi: app"),
    line: 2,
    column: 9,
    message: "a merge key ('<<') takes a mapping, an alias of one, or a list of them",
  },
  {
    name: "wsgi with two colons",
    input: lines("- endpoint:", "    name: ww", "    image: x", "    wsgi: a:b:c"),
    line: 4,
    column: 11,
    message: "wsgi 'a:b:c' is invalid: write it as 'package.module' or 'package.module:callable'",
  },
  {
    name: "wsgi calling the result of a call",
    input: lines("- endpoint:", "    name: ww", "    image: x", "    wsgi: 'pkg.app:make()()'"),
    line: 4,
    column: 11,
    message: "wsgi 'pkg.app:make()()' is invalid",
  },
  {
    name: "declared file .git/config (the job token with persist-credentials)",
    input: lines(...ok, "    files:", "      - name: creds", "        path: .git/config"),
    line: 7,
    column: 15,
    message: "file path '.git/config' is inside .git, where git keeps the checkout's credentials",
  },
  {
    name: "declared file ./.git/config",
    input: lines(...ok, "    files:", "      - name: creds", "        path: ./.git/config"),
    line: 7,
    column: 15,
    message: "file path './.git/config' is inside .git",
  },
  {
    name: "declared file reaching .git through ..",
    input: lines(...ok, "    files:", "      - name: creds", "        path: models/../.git/config"),
    line: 7,
    column: 15,
    message: "file path 'models/../.git/config' is inside .git",
  },
  {
    name: "declared file in a nested repository's .GIT",
    input: lines(...ok, "    files:", "      - name: creds", "        path: vendor/lib/.GIT/config"),
    line: 7,
    column: 15,
    message: "file path 'vendor/lib/.GIT/config' is inside .git",
  },
  {
    name: "declared file .git itself",
    input: lines(...ok, "    files:", "      - name: creds", "        path: .git"),
    line: 7,
    column: 15,
    message: "file path '.git' is inside .git",
  },
  {
    name: "Dockerfile inside .git",
    input: dep("    builder: docker", "    dockerfile: .git/hooks/Dockerfile"),
    line: 8,
    column: 17,
    message: "dockerfile '.git/hooks/Dockerfile' is inside .git",
  },
  {
    name: "base-url with credentials, quoted without the password",
    input: dep("    base-url: https://deploy:hunter2@ml.example.com"),
    line: 7,
    column: 15,
    message: "base-url 'https://***@ml.example.com' is invalid: use an http(s) URL without credentials",
  },
  {
    name: "registry with credentials, quoted without the password",
    input: dep("    registry: deploy:hunter2@ghcr.io/acme"),
    line: 7,
    column: 15,
    message: "registry '***@ghcr.io/acme' is invalid",
  },
  {
    name: "a name of 100,000 characters, quoted cut short",
    input: lines("- endpoint:", `    name: ${"N".repeat(100_000)}`, "    image: x", "    wsgi: app"),
    line: 2,
    column: 11,
    message: `name '${"N".repeat(80)}…' is invalid`,
  },
  {
    name: "a key longer than YAML allows an implicit key to be",
    input: lines(...ok, `    ${"k".repeat(50_000)}: 1`),
    line: 5,
    column: 5,
    message: "YAML syntax: The : indicator must be at most 1024 chars",
  },
  {
    name: "an entry of 10,000 keys, named in the message only by its first five",
    input: lines(
      `- {endpoint: {name: ab, image: x, wsgi: app}, ${Array.from({ length: 9999 }, (_, i) => `k${i}: v`).join(", ")}}`,
    ),
    line: 1,
    column: 47,
    message: "entry #1 has 10000 keys (endpoint, k0, k1, k2, k3, …); each list item holds exactly one entry",
  },
  {
    name: "a cycle of two environments",
    input: dep("    environments:", "      a: {requires: [b]}", "      b: {requires: [a]}"),
    line: 9,
    column: 11,
    message: "environment 'b' requires itself through a cycle",
  },
];

describe("bad config input", () => {
  it("has at least 30 cases", () => {
    expect(cases.length).toBeGreaterThanOrEqual(30);
  });

  it.each(cases)(
    "$name",
    ({ input, line, column, message }) => {
      const result = parseConfig(typeof input === "string" ? Buffer.from(input) : input, "valohai.yaml");
      expect(result.config).toBeUndefined();
      const errors = result.problems.filter((p) => p.severity === "error");
      const hit = errors.find((p) =>
        typeof message === "string" ? p.message.includes(message) : message.test(p.message),
      );
      expect(hit, `problems were:\n${result.problems.map(formatProblem).join("\n")}`).toBeDefined();
      expect({ line: hit?.line, column: hit?.column }).toEqual({ line, column });
      // A slow machine's margin for the large inputs; their bounds are in config-work-bounds.test.ts.
    },
    60_000,
  );
});
