import { test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { newMessage, parseMessage, serializeMessage, Signer } from "../../kernel/protocol/wire.js";

const DELIM = "<IDS|MSG>";

test("signatures are HMAC-SHA256 of header, parent, metadata and content", () => {
  const signer = new Signer("secret");
  const parts = ['{"a":1}', "{}", "{}", '{"code":"1"}'];
  const want = createHmac("sha256", "secret").update(parts.join("")).digest("hex");
  assert.equal(signer.sign(parts), want);
  assert.ok(signer.verify(want, parts));
  assert.ok(!signer.verify(want.replace(/.$/, (c) => (c === "0" ? "1" : "0")), parts));
  // an empty key disables signing, as the spec says
  assert.equal(new Signer("").sign(parts), "");
});

test("serialise then parse round-trips, with identities kept", () => {
  const signer = new Signer("k");
  const parent = newMessage("execute_request", { code: "1+1" });
  const reply = newMessage("execute_reply", { status: "ok", execution_count: 1 }, parent, [Buffer.from("client-1")]);
  const frames = serializeMessage(reply, signer);
  assert.equal(frames[0]!.toString(), "client-1");
  assert.equal(frames[1]!.toString(), DELIM);
  const back = parseMessage(frames, signer);
  assert.deepEqual(back.content, { status: "ok", execution_count: 1 });
  assert.equal(back.header.msg_type, "execute_reply");
  assert.equal(back.header.version, "5.3");
  assert.equal((back.parent_header as { msg_id: string }).msg_id, parent.header.msg_id);
  assert.equal(back.header.session, parent.header.session);
  assert.deepEqual(back.identities.map(String), ["client-1"]);
});

test("a tampered message or a wrong key is refused", () => {
  const frames = serializeMessage(newMessage("kernel_info_request", {}), new Signer("k"));
  assert.throws(() => parseMessage(frames, new Signer("other")), /invalid HMAC/);
  const tampered = [...frames];
  tampered[tampered.length - 1] = Buffer.from('{"evil":true}');
  assert.throws(() => parseMessage(tampered, new Signer("k")), /invalid HMAC/);
  assert.throws(() => parseMessage([Buffer.from("x")], new Signer("k")), /delimiter/);
});
