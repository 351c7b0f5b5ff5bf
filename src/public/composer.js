// The message box: Enter sends, Shift+Enter starts a new line, and the box
// grows with its text; a draft stays with its conversation when the user
// switches; typing is reported while the user writes and stopped 5 s after
// the last keystroke, when the box is emptied, on sending and on switching.
import { cancel, compose } from "./actions.js";

/** This long after the last keystroke, the user has stopped typing (the client repeats `true` until told). */
const TYPING_IDLE_MS = 5000;
/** The box grows up to this many pixels, then scrolls. */
const MAX_HEIGHT_PX = 160;

const $ = (selector) => document.querySelector(selector);
const box = () => $("#composer textarea[name=text]");

export class Composer {
  /**
   * @param {{
   *   client: import("./client.js").LunarLoomClient,
   *   chats: () => import("./model.js").Chats,
   *   current: () => string,
   *   sent: (outgoing: import("./client.js").Outgoing) => void,
   * }} deps
   */
  constructor(deps) {
    this.deps = deps;
    this.idle = undefined;
    $("#composer").addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
    box().addEventListener("keydown", (event) => {
      if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
      event.preventDefault();
      this.send();
    });
    box().addEventListener("input", () => this.input());
  }

  /** Keeps the draft of the conversation being left, and stops saying the user types there. */
  leave(peer) {
    if (!peer) return;
    cancel();
    this.deps.chats().chat(peer).draft = box().value;
    this.stopTyping(peer);
  }

  /** Shows the draft of the conversation being opened. */
  enter(peer) {
    box().value = this.deps.chats().chat(peer).draft;
    this.fit();
  }

  focus() {
    box().focus();
  }

  send() {
    const current = this.deps.current();
    const text = box().value.trim();
    if (!text || !current) return;
    box().value = "";
    this.deps.chats().chat(current).draft = "";
    this.fit();
    // The send itself tells the others the typing is over.
    clearTimeout(this.idle);
    // A reply or an edit when the box is in that mode (actions.js).
    const outgoing = compose(current, text);
    if (outgoing) this.deps.sent(outgoing);
    else this.stopTyping(current);
  }

  input() {
    const current = this.deps.current();
    this.fit();
    if (!current) return;
    this.deps.chats().chat(current).draft = box().value;
    clearTimeout(this.idle);
    if (box().value.trim() === "") {
      this.deps.client.typing(current, false);
      return;
    }
    this.deps.client.typing(current, true);
    this.idle = setTimeout(() => this.stopTyping(current), TYPING_IDLE_MS);
  }

  stopTyping(peer) {
    clearTimeout(this.idle);
    this.deps.client.typing(peer, false);
  }

  /** As tall as its lines, up to a limit. */
  fit() {
    const el = box();
    // Not on screen (the composer is hidden): nothing to measure; its rows say how tall it starts.
    if (el.offsetParent === null) {
      el.style.height = "";
      return;
    }
    el.style.height = "auto";
    el.style.height = `${Math.min(el.scrollHeight, MAX_HEIGHT_PX)}px`;
  }
}
