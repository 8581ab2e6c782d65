// The YAML of deploy/ (Kubernetes manifests, the compose file): it parses,
// the probes, the drain and the wiring between the objects are there, and
// the settings it gives fawkes are ones the binary starts with.
//
// The YAML parser is the one playwright-core (a pinned devDependency)
// bundles and exports as lib/utilsBundle: no new dependency. (The Go
// tests, cmd/fawkes/deploy_test.go, check the systemd unit, the TOML
// example and the Containerfile.)
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { readFile, readdir } from "node:fs/promises";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { startServer, stopAll, cleanup } from "./helpers/server.js";

const { yaml } = createRequire(import.meta.url)("playwright-core/lib/utilsBundle");
const DEPLOY = fileURLToPath(new URL("../../deploy/", import.meta.url));

after(async () => {
  await stopAll();
  await cleanup();
});

/** Every document of a YAML file, parsed strictly (errors and warnings fail). */
async function documents(file) {
  const text = await readFile(path.join(DEPLOY, file), "utf8");
  const docs = yaml.parseAllDocuments(text, { strict: true, uniqueKeys: true });
  for (const d of docs) {
    assert.deepEqual([...d.errors, ...d.warnings].map(String), [], `${file} does not parse`);
  }
  return docs.map((d) => d.toJS()).filter((d) => d != null);
}

async function manifests() {
  const files = (await readdir(path.join(DEPLOY, "kubernetes"))).filter((f) => f.endsWith(".yaml"));
  assert.deepEqual(files.sort(), ["fawkes.yaml", "redis.yaml"]);
  const all = [];
  for (const f of files) all.push(...(await documents(path.join("kubernetes", f))));
  const find = (kind, name) => {
    const found = all.find((o) => o.kind === kind && o.metadata?.name === name);
    assert.ok(found, `a ${kind} named ${name} in deploy/kubernetes`);
    return found;
  };
  return { all, find };
}

/** Seconds of a Go duration such as "30s" or "1m". */
function seconds(d) {
  const m = /^(\d+)(s|m)$/.exec(d);
  assert.ok(m, `duration ${d}`);
  return Number(m[1]) * (m[2] === "m" ? 60 : 1);
}

test("deploy/kubernetes: a Deployment with liveness /healthz, readiness /readyz, a preStop before the drain", async () => {
  const { all, find } = await manifests();
  for (const o of all) {
    assert.ok(o.apiVersion && o.kind && o.metadata?.name, `every object has apiVersion, kind and name: ${JSON.stringify(o).slice(0, 80)}`);
  }
  const dep = find("Deployment", "fawkes");
  assert.ok(dep.spec.replicas >= 2, "two nodes or more");
  const pod = dep.spec.template.spec;
  assert.deepEqual(dep.spec.selector.matchLabels, dep.spec.template.metadata.labels, "the selector matches the pods");
  const [c] = pod.containers;
  const port = (name) => c.ports.find((p) => p.name === name)?.containerPort;
  assert.equal(port("http"), 4000);

  assert.equal(c.livenessProbe.httpGet.path, "/healthz");
  assert.equal(c.readinessProbe.httpGet.path, "/readyz");
  for (const probe of [c.livenessProbe, c.readinessProbe]) assert.equal(probe.httpGet.port, "http");
  assert.ok(c.readinessProbe.periodSeconds * c.readinessProbe.failureThreshold <= 5, "readiness notices a drain within seconds");

  const preStop = c.lifecycle?.preStop;
  assert.ok(preStop?.sleep?.seconds > 0, `preStop sleeps so that the Service drops the pod before SIGTERM drains: ${JSON.stringify(preStop)}`);
  const env = Object.fromEntries(c.env.map((e) => [e.name, e]));
  const grace = seconds(env.FAWKES_SHUTDOWN_GRACE?.value ?? "30s");
  assert.ok(pod.terminationGracePeriodSeconds > preStop.sleep.seconds + grace,
    `terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds} > preStop ${preStop.sleep.seconds} + --shutdown-grace ${grace}: else the kubelet kills the drain`);

  // Secrets come from a Secret, never as values.
  assert.equal(env.FAWKES_SECRET_KEY_BASE.valueFrom.secretKeyRef.name, "fawkes");
  assert.equal(env.FAWKES_SECRET_KEY_BASE.value, undefined);
  // Non-root, as the image's USER.
  assert.equal(pod.securityContext.runAsNonRoot, true);
  assert.equal(pod.securityContext.runAsUser, 65534);
  assert.equal(c.securityContext.allowPrivilegeEscalation, false);

  // The Service reaches the pods' http port; the Redis URL names the Redis Service.
  const svc = find("Service", "fawkes");
  assert.deepEqual(svc.spec.selector, dep.spec.selector.matchLabels);
  assert.ok(svc.spec.ports.some((p) => p.targetPort === "http"), "the Service targets the http port");
  assert.ok(!svc.spec.ports.some((p) => p.targetPort === "metrics" || p.targetPort === 9090), "metrics stay off the Service");
  const redisURL = new URL(env.FAWKES_REDIS_URL.value);
  const redisSvc = find("Service", redisURL.hostname);
  assert.equal(redisSvc.spec.ports[0].port, Number(redisURL.port));
  const redisDep = find("Deployment", "fawkes-redis");
  assert.deepEqual(redisSvc.spec.selector, redisDep.spec.selector.matchLabels);
});

test("deploy/compose.yaml: Redis, two nodes, a balancer, a stop grace longer than the drain", async () => {
  const [compose] = await documents("compose.yaml");
  const { services } = compose;
  assert.deepEqual(Object.keys(services).sort(), ["balancer", "fawkes1", "fawkes2", "redis"]);
  assert.deepEqual(services.fawkes1, services.fawkes2, "the nodes are alike (the YAML anchor)");
  assert.equal(services.fawkes1.environment.FAWKES_REDIS_URL, "redis://redis:6379/0");
  assert.ok(seconds(services.fawkes1.stop_grace_period) > 30, "stop_grace_period longer than --shutdown-grace");
  const nginx = await readFile(path.join(DEPLOY, "nginx.conf"), "utf8");
  for (const node of ["fawkes1", "fawkes2"]) assert.match(nginx, new RegExp(`server ${node}:4000;`));
});

test("deploy: fawkes starts with the settings the manifests and the compose file give it", async () => {
  const { find } = await manifests();
  const [c] = find("Deployment", "fawkes").spec.template.spec.containers;
  const [compose] = await documents("compose.yaml");
  const secret = "k".repeat(64);
  const cases = [
    { what: "kubernetes", args: c.args, env: Object.fromEntries(c.env.map((e) => [e.name, e.value ?? secret])) },
    { what: "compose", args: [], env: { ...compose.services.fawkes1.environment, FAWKES_SECRET_KEY_BASE: secret } },
  ];
  for (const { env } of cases) {
    // ${VAR:-} and ${VAR:?...} are the operator's to fill in.
    for (const [k, v] of Object.entries(env)) if (String(v).startsWith("${")) delete env[k];
    env.FAWKES_SECRET_KEY_BASE = secret;
  }
  for (const { what, args, env } of cases) {
    // Loopback addresses instead of the pod's: the settings are what is checked.
    // Redis is unreachable here; --redis-start retry (the default) serves anyway.
    const flags = [...args, "--addr", "127.0.0.1:0", "--metrics-addr", "127.0.0.1:0", "--log-format", "json"];
    const srv = await startServer(flags, { env: { ...env, FAWKES_REDIS_URL: "redis://127.0.0.1:1/0" } });
    const up = srv.logs.find((l) => l.message === "fawkes listening");
    assert.equal(up.pubsub, "redis", `${what}: pubsub`);
    assert.equal(up.presence, true, `${what}: presence`);
    await srv.stop();
  }
});
