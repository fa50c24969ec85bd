/**
 * The Jupyter wire protocol (messaging spec v5.3): parse and serialise multipart messages,
 * with HMAC signatures as the connection file asks.
 *
 *   [identities..., "<IDS|MSG>", signature, header, parent_header, metadata, content, buffers...]
 *
 * The signature is HMAC(key, header + parent_header + metadata + content) in hex, with the
 * scheme of the connection file ("hmac-sha256"); an empty key disables signing.
 * https://jupyter-client.readthedocs.io/en/latest/messaging.html#the-wire-protocol
 */
import { createHmac, randomUUID, timingSafeEqual } from "node:crypto";

export const PROTOCOL_VERSION = "5.3";
const DELIM = Buffer.from("<IDS|MSG>");

export interface ConnectionInfo {
  transport: string;
  ip: string;
  shell_port: number;
  iopub_port: number;
  stdin_port: number;
  control_port: number;
  hb_port: number;
  key: string;
  signature_scheme: string; // "hmac-sha256"
  kernel_name?: string;
}

export interface Header {
  msg_id: string;
  session: string;
  username: string;
  date: string;
  msg_type: string;
  version: string;
}

export interface Message<C = Record<string, unknown>> {
  identities: Buffer[];
  header: Header;
  parent_header: Header | Record<string, never>;
  metadata: Record<string, unknown>;
  content: C;
  buffers: Buffer[];
}

/** Signs and verifies with the key and scheme of one connection file. */
export class Signer {
  private readonly algorithm: string;
  constructor(private readonly key: string, scheme = "hmac-sha256") {
    const m = /^hmac-(.+)$/.exec(scheme);
    if (!m) throw new Error(`unsupported signature_scheme "${scheme}": use hmac-sha256`);
    this.algorithm = m[1]!;
  }

  sign(parts: (Buffer | string)[]): string {
    if (this.key === "") return "";
    const h = createHmac(this.algorithm, this.key);
    for (const p of parts) h.update(p);
    return h.digest("hex");
  }

  verify(signature: string, parts: (Buffer | string)[]): boolean {
    if (this.key === "") return true;
    const want = Buffer.from(this.sign(parts));
    const got = Buffer.from(signature);
    return want.length === got.length && timingSafeEqual(want, got);
  }
}

/** Parses a multipart message; throws on a missing delimiter or a bad signature. */
export function parseMessage(frames: Buffer[], signer: Signer): Message {
  const d = frames.findIndex((f) => f.equals(DELIM));
  if (d < 0) throw new Error("message without <IDS|MSG> delimiter");
  const signature = frames[d + 1]!.toString();
  const parts = frames.slice(d + 2, d + 6);
  if (parts.length < 4) throw new Error("message with fewer than 4 parts after the signature");
  if (!signer.verify(signature, parts)) throw new Error("message with an invalid HMAC signature");
  const [header, parent, metadata, content] = parts.map((p) => JSON.parse(p.toString() || "{}"));
  return {
    identities: frames.slice(0, d),
    header,
    parent_header: parent,
    metadata,
    content,
    buffers: frames.slice(d + 6),
  };
}

/** Serialises a message to frames, signing header, parent, metadata and content. */
export function serializeMessage(msg: Message<unknown>, signer: Signer): Buffer[] {
  const parts = [msg.header, msg.parent_header, msg.metadata, msg.content].map((p) => Buffer.from(JSON.stringify(p)));
  return [...msg.identities, DELIM, Buffer.from(signer.sign(parts)), ...parts, ...msg.buffers];
}

/** A new message in reply to (or caused by) `parent`, in the parent's session. */
export function newMessage<C>(
  msgType: string,
  content: C,
  parent?: Message<unknown>,
  identities: Buffer[] = [],
): Message<C> {
  return {
    identities,
    header: {
      msg_id: randomUUID(),
      session: parent?.header.session ?? SESSION,
      username: parent?.header.username ?? "kernel",
      date: new Date().toISOString(),
      msg_type: msgType,
      version: PROTOCOL_VERSION,
    },
    parent_header: parent?.header ?? {},
    metadata: {},
    content,
    buffers: [],
  };
}

/** This kernel process's session id (used when a message has no parent). */
export const SESSION = randomUUID();
