// Golden frames (testdata/golden/*.json) checked against phoenix.js's own
// serializer, the one every unmodified client uses. The Go protocol tests read
// the same files, so a frame that passes both is one phoenix.js and Fawkes agree
// on. See testdata/golden/README.md for the format.
//
// Serializer is a named export of the phoenix package (phoenix.mjs ends with
// `export { ..., serializer_default as Serializer, ... }`), so no deep import
// into node_modules is needed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { Serializer } from "phoenix";

const goldenDir = fileURLToPath(new URL("../../testdata/golden/", import.meta.url));
const serializers = ["v1_json.json", "v2_binary.json", "v2_json.json"];

function load(file) {
  return JSON.parse(readFileSync(path.join(goldenDir, file), "utf8")).frames;
}

// Serializer.encode/decode are callback-style; they call back synchronously.
function encode(msg) {
  let out;
  Serializer.encode(msg, (v) => { out = v; });
  return out;
}

function decode(raw) {
  let out;
  Serializer.decode(raw, (v) => { out = v; });
  return out;
}

// A fresh ArrayBuffer holding exactly the bytes: phoenix.js checks
// `constructor === ArrayBuffer`, and a Buffer's .buffer may be a shared pool.
function hexToArrayBuffer(hex) {
  return Uint8Array.from(Buffer.from(hex, "hex")).buffer;
}

function arrayBufferToHex(buf) {
  assert.ok(buf instanceof ArrayBuffer, "payload should be an ArrayBuffer");
  return Buffer.from(new Uint8Array(buf)).toString("hex");
}

test("every serializer has a golden file, and nothing else is there", () => {
  const files = readdirSync(goldenDir).filter((f) => f.endsWith(".json")).sort();
  assert.deepEqual(files, serializers);
});

// Format checks for every file, V1 included: the files are a contract the Go
// tests read too, so a malformed entry should fail here, not go unnoticed.
for (const file of serializers) {
  test(`${file}: entries follow the golden format`, () => {
    const frames = load(file);
    assert.ok(frames.length > 0, "no frames");
    const binary = file.includes("binary");
    const names = new Set();
    for (const f of frames) {
      assert.equal(typeof f.name, "string", JSON.stringify(f));
      assert.ok(!names.has(f.name), `duplicate name ${f.name}`);
      names.add(f.name);
      assert.ok(["server", "client"].includes(f.direction), `${f.name}: direction`);
      assert.ok(["push", "reply", "broadcast"].includes(f.kind), `${f.name}: kind`);
      if (f.direction === "client") assert.equal(f.kind, "push", `${f.name}: client frames are pushes`);
      assert.equal(typeof f.exact, "boolean", `${f.name}: exact`);
      const m = f.message;
      for (const k of ["join_ref", "ref", "topic", "event"]) assert.ok(k in m, `${f.name}: message.${k}`);
      if (f.kind === "reply") {
        assert.equal(m.event, "phx_reply", `${f.name}: reply event`);
        assert.equal(typeof m.status, "string", `${f.name}: reply status`);
      } else {
        assert.ok(!("status" in m), `${f.name}: status only on replies`);
      }
      if (binary) {
        assert.match(f.hex, /^([0-9a-f]{2})+$/, `${f.name}: hex`);
        assert.match(m.payload_hex, /^([0-9a-f]{2})*$/, `${f.name}: payload_hex`);
        assert.ok(!("text" in f) && !("payload" in m), `${f.name}: binary frames use hex only`);
        assert.equal(f.exact, true, `${f.name}: binary frames are exact`);
      } else {
        assert.equal(typeof f.text, "string", `${f.name}: text`);
        assert.ok("payload" in m, `${f.name}: payload`);
        assert.ok(!("hex" in f) && !("payload_hex" in m), `${f.name}: JSON frames use text only`);
        JSON.parse(f.text); // must be valid JSON
      }
    }
  });
}

// V1 JSON: phoenix.js 1.8 only speaks V2 (its Socket always connects with
// vsn=2.0.0), so its serializer has nothing to say about V1 frames. What a V1
// client reads is the plain JSON object: check every frame's object carries
// the message's fields, and that server frames never carry join_ref.
test("v1_json.json: frames are the objects a V1 client reads", () => {
  for (const f of load("v1_json.json")) {
    const m = f.message;
    const got = JSON.parse(f.text);
    assert.equal(got.topic, m.topic, `${f.name}: topic`);
    assert.equal(got.event, m.event, `${f.name}: event`);
    assert.deepEqual(got.ref, m.ref, `${f.name}: ref`);
    if (f.direction === "server") {
      assert.ok(!("join_ref" in got), `${f.name}: V1 server frames never carry join_ref`);
      assert.ok("ref" in got, `${f.name}: V1 server frames always carry ref`);
    } else {
      assert.deepEqual(got.join_ref ?? null, m.join_ref, `${f.name}: join_ref`);
    }
    const payload = f.kind === "reply" ? { status: m.status, response: m.payload } : m.payload;
    assert.deepEqual(got.payload, payload, `${f.name}: payload`);
  }
});

test("v2_json.json: server frames decode to the expected message", () => {
  for (const f of load("v2_json.json").filter((f) => f.direction === "server")) {
    const m = f.message;
    const got = decode(f.text);
    assert.equal(got.join_ref, m.join_ref, `${f.name}: join_ref`);
    assert.equal(got.ref, m.ref, `${f.name}: ref`);
    assert.equal(got.topic, m.topic, `${f.name}: topic`);
    assert.equal(got.event, m.event, `${f.name}: event`);
    if (f.kind === "reply") {
      assert.deepEqual(got.payload, { status: m.status, response: m.payload }, `${f.name}: reply payload`);
    } else {
      assert.deepEqual(got.payload, m.payload, `${f.name}: payload`);
    }
  }
});

test("v2_json.json: exact server frames are what JSON.stringify of the message gives", () => {
  // phoenix.js and Fawkes agree on the bytes where key order cannot differ.
  for (const f of load("v2_json.json").filter((f) => f.direction === "server" && f.exact)) {
    const m = f.message;
    assert.notEqual(f.kind, "reply", `${f.name}: a reply wraps two keys and cannot be exact`);
    assert.equal(encode(m), f.text, f.name);
  }
});

test("v2_json.json: client frames are what Serializer.encode produces", () => {
  const frames = load("v2_json.json").filter((f) => f.direction === "client");
  assert.ok(frames.length > 0);
  for (const f of frames) {
    const { join_ref, ref, topic, event, payload } = f.message;
    assert.equal(encode({ join_ref, ref, topic, event, payload }), f.text, f.name);
  }
});

test("v2_binary.json: server frames decode to the expected message", () => {
  const frames = load("v2_binary.json").filter((f) => f.direction === "server");
  assert.ok(frames.length > 0);
  for (const f of frames) {
    const m = f.message;
    const got = decode(hexToArrayBuffer(f.hex));
    assert.equal(got.topic, m.topic, `${f.name}: topic`);
    assert.equal(got.event, m.event, `${f.name}: event`);
    // A nil join_ref/ref goes on the wire as an empty string. phoenix.js hands
    // back "" for an empty join_ref in pushes and replies (it only routes on
    // non-empty join_refs), null where the frame kind has no such field.
    assert.equal(got.join_ref === "" ? null : got.join_ref, m.join_ref, `${f.name}: join_ref`);
    assert.equal(got.ref === "" ? null : got.ref, m.ref, `${f.name}: ref`);
    if (f.kind === "reply") {
      assert.equal(got.payload.status, m.status, `${f.name}: status`);
      assert.equal(arrayBufferToHex(got.payload.response), m.payload_hex, `${f.name}: response bytes`);
    } else {
      assert.equal(arrayBufferToHex(got.payload), m.payload_hex, `${f.name}: payload bytes`);
    }
  }
});

test("v2_binary.json: client pushes are what Serializer.encode produces", () => {
  const frames = load("v2_binary.json").filter((f) => f.direction === "client");
  assert.ok(frames.length > 0);
  for (const f of frames) {
    const { join_ref, ref, topic, event, payload_hex } = f.message;
    const out = encode({ join_ref, ref, topic, event, payload: hexToArrayBuffer(payload_hex) });
    assert.equal(arrayBufferToHex(out), f.hex, f.name);
  }
});
