// Load + validate + plan a config with 500 endpoints; compares against the least any reader of
// the file must do (a bare YAML parse) measured in the same run.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { parse } from "yaml";
import { loadConfig } from "../src/config/load.js";
import { planDeployment } from "../src/plan/plan.js";

const ENDPOINTS = 500;
const RUNS = 15;

function config(): string {
  const out = ["- step: {name: train, image: python:3.11, command: python train.py}"];
  for (let i = 0; i < ENDPOINTS; i++) {
    out.push(
      "- endpoint:",
      `    name: endpoint-${i}`,
      `    description: Endpoint number ${i}`,
      "    image: python:3.11",
      i % 2 === 0 ? "    wsgi: predict.app:application" : "    server-command: python -m predict.server",
      "    files:",
      `      - {name: model, path: models/model-${i}.pkl}`,
      "    resources: {cpu: {min: 0.5, max: 1}, memory: {max: 512}}",
    );
  }
  out.push("- deployment: {name: bench, base-url: https://ml.example.com, environments: {staging: {}}}");
  return `${out.join("\n")}\n`;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

const dir = mkdtempSync(join(tmpdir(), "slipway-bench-"));
const file = join(dir, "valohai.yaml");
const text = config();
writeFileSync(file, text);

const bare: number[] = [];
const full: number[] = [];
for (let run = 0; run < RUNS; run++) {
  let start = performance.now();
  parse(text);
  bare.push(performance.now() - start);

  start = performance.now();
  const result = await loadConfig(file);
  if (!result.config) throw new Error(`bench config is invalid: ${result.problems[0]?.message}`);
  const plan = planDeployment(result.config, {
    owner: "acme",
    repo: "bench",
    commit: "0123456789abcdef0123456789abcdef01234567",
    pullRequest: 7,
    environment: "staging",
  });
  if (plan.endpoints.length !== ENDPOINTS) throw new Error("plan lost endpoints");
  full.push(performance.now() - start);
}

const b = median(bare);
const f = median(full);
console.log(`config: ${ENDPOINTS} endpoints, ${(text.length / 1024).toFixed(0)} KiB; median of ${RUNS} runs`);
console.log(`yaml.parse alone:              ${b.toFixed(1)} ms`);
console.log(
  `slipway load+validate+plan:    ${f.toFixed(1)} ms  (${((f * 1000) / ENDPOINTS).toFixed(1)} µs per endpoint)`,
);
console.log(`ratio (slipway / bare parse):  ${(f / b).toFixed(2)}×`);
