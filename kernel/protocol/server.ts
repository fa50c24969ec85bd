/**
 * The Jupyter protocol layer on zeromq 6: five sockets, a heartbeat, and a dispatch of shell and
 * control requests to a `KernelHandler`. It owns what tslab 1.0.22's server got wrong (issue 5):
 * every reply carries `status`; execute requests publish `execute_input`; requests are never
 * aborted after an error; `comm_info_request` gets a `comm_info_reply`; `interrupt_request` on
 * the control channel interrupts the running cell.
 *
 * Shell requests run one at a time, in order (a long cell holds later ones in zmq's queue);
 * control requests are served concurrently, so interrupt and shutdown work while a cell runs.
 */
import * as zmq from "zeromq";
import { readFileSync } from "node:fs";
import type { ConnectionInfo, Message } from "./wire.js";
import { newMessage, parseMessage, serializeMessage, Signer } from "./wire.js";
import { kernelLog } from "../log.js";

/** Sends iopub messages on behalf of one request (the parent of everything it publishes). */
export interface Publisher {
  publish(msgType: string, content: unknown): void;
}

export interface KernelHandler {
  kernelInfo(): Record<string, unknown>;
  /** Runs a cell; publishes its outputs through `io`; returns the execute_reply content. */
  execute(msg: Message, io: Publisher): Promise<Record<string, unknown>>;
  /** (may be async: a `%%stepwise` cell's completion loads the DSL on first use) */
  complete(code: string, cursorPos: number): Record<string, unknown> | Promise<Record<string, unknown>>;
  inspect(code: string, cursorPos: number, detailLevel: number): Record<string, unknown> | Promise<Record<string, unknown>>;
  isComplete(code: string): Record<string, unknown> | Promise<Record<string, unknown>>;
  interrupt(): void;
  shutdown(restart: boolean): void;
}

/** zeromq 6 allows one pending send per socket: chain them. */
class SendQueue {
  private tail: Promise<void> = Promise.resolve();
  constructor(private readonly sock: zmq.Writable) {}
  send(frames: Buffer[]): Promise<void> {
    this.tail = this.tail.then(
      () => this.sock.send(frames),
      () => this.sock.send(frames),
    ).catch((e) => {
      if (!closing) kernelLog(`send failed: ${String(e)}`);
    });
    return this.tail;
  }
}

let closing = false;

export class KernelServer {
  readonly conn: ConnectionInfo;
  private readonly signer: Signer;
  private readonly shell = new zmq.Router();
  private readonly control = new zmq.Router();
  private readonly stdin = new zmq.Router();
  private readonly iopub = new zmq.Publisher();
  private readonly hb = new zmq.Reply();
  private readonly shellOut = new SendQueue(this.shell);
  private readonly controlOut = new SendQueue(this.control);
  private readonly iopubOut = new SendQueue(this.iopub);

  constructor(private readonly handler: KernelHandler, connectionFile: string) {
    this.conn = JSON.parse(readFileSync(connectionFile, "utf8"));
    this.signer = new Signer(this.conn.key ?? "", this.conn.signature_scheme || "hmac-sha256");
  }

  async start(): Promise<void> {
    const url = (port: number) =>
      this.conn.transport === "ipc" ? `ipc://${this.conn.ip}-${port}` : `${this.conn.transport}://${this.conn.ip}:${port}`;
    await Promise.all([
      this.shell.bind(url(this.conn.shell_port)),
      this.control.bind(url(this.conn.control_port)),
      this.stdin.bind(url(this.conn.stdin_port)),
      this.iopub.bind(url(this.conn.iopub_port)),
      this.hb.bind(url(this.conn.hb_port)),
    ]);
    void this.heartbeat();
    void this.serve(this.shell, this.shellOut, true);
    void this.serve(this.control, this.controlOut, false);
    this.status("starting");
  }

  /** Publishes on iopub with `parent` as the parent header (none for kernel-wide status). */
  publish(msgType: string, content: unknown, parent?: Message<unknown>): void {
    void this.iopubOut.send(serializeMessage(newMessage(msgType, content, parent), this.signer));
  }

  private status(state: "busy" | "idle" | "starting", parent?: Message<unknown>): void {
    this.publish("status", { execution_state: state }, parent);
  }

  private async heartbeat(): Promise<void> {
    try {
      for await (const frames of this.hb) await this.hb.send(frames);
    } catch (e) {
      if (!closing) kernelLog(`heartbeat stopped: ${String(e)}`);
    }
  }

  private async serve(sock: zmq.Router, out: SendQueue, sequential: boolean): Promise<void> {
    try {
      for await (const frames of sock) {
        let msg: Message;
        try {
          msg = parseMessage(frames as Buffer[], this.signer);
        } catch (e) {
          kernelLog(`dropped a message: ${(e as Error).message}`);
          continue;
        }
        const done = this.dispatch(msg, out);
        if (sequential) await done;
      }
    } catch (e) {
      if (!closing) kernelLog(`socket loop stopped: ${String(e)}`);
    }
  }

  private async dispatch(msg: Message, out: SendQueue): Promise<void> {
    const reply = (type: string, content: Record<string, unknown>) =>
      out.send(serializeMessage(newMessage(type, content, msg, msg.identities), this.signer));
    const c = msg.content as Record<string, any>;
    this.status("busy", msg);
    let shutdown: boolean | undefined;
    try {
      switch (msg.header.msg_type) {
        case "kernel_info_request":
          await reply("kernel_info_reply", { status: "ok", ...this.handler.kernelInfo() });
          break;
        case "execute_request": {
          const io: Publisher = { publish: (t, content) => this.publish(t, content, msg) };
          await reply("execute_reply", await this.handler.execute(msg, io));
          break;
        }
        case "complete_request":
          await reply("complete_reply", await this.safe(() => this.handler.complete(c.code, c.cursor_pos)));
          break;
        case "inspect_request":
          await reply("inspect_reply", await this.safe(() => this.handler.inspect(c.code, c.cursor_pos, c.detail_level ?? 0)));
          break;
        case "is_complete_request":
          await reply("is_complete_reply", await this.safe(() => this.handler.isComplete(c.code)));
          break;
        case "comm_info_request":
          // No comm targets are registered: an empty dict, as ipykernel answers.
          await reply("comm_info_reply", { status: "ok", comms: {} });
          break;
        case "history_request":
          await reply("history_reply", { status: "ok", history: [] });
          break;
        case "interrupt_request":
          this.handler.interrupt();
          await reply("interrupt_reply", { status: "ok" });
          break;
        case "shutdown_request":
          shutdown = Boolean(c.restart);
          await reply("shutdown_reply", { status: "ok", restart: shutdown });
          break;
        case "comm_open":
          // Nothing listens: close it at once so the frontend does not wait.
          this.publish("comm_close", { comm_id: c.comm_id, data: {} }, msg);
          break;
        case "comm_msg":
        case "comm_close":
          break;
        default:
          kernelLog(`unhandled ${msg.header.msg_type}`);
      }
    } finally {
      this.status("idle", msg);
    }
    if (shutdown !== undefined) await this.close(shutdown);
  }

  /** Runs a request handler; an exception becomes an error reply, never a dead kernel. */
  private async safe(f: () => Record<string, unknown> | Promise<Record<string, unknown>>): Promise<Record<string, unknown>> {
    try {
      return await f();
    } catch (e) {
      const err = e instanceof Error ? e : new Error(String(e));
      return { status: "error", ename: err.name, evalue: err.message, traceback: (err.stack ?? err.message).split("\n") };
    }
  }

  async close(restart = false): Promise<void> {
    closing = true;
    // Let the last messages (reply, idle) leave before the sockets close.
    await new Promise((r) => setTimeout(r, 50));
    this.handler.shutdown(restart);
    for (const s of [this.shell, this.control, this.stdin, this.iopub, this.hb]) s.close();
    process.exit(0);
  }
}
