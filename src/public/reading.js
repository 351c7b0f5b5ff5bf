// Read only when seen: an incoming message counts as read when at least
// half of it (or half the view, for a tall one) is on screen in the open
// conversation while the window has focus, never merely because it arrived.
// Receipts are watermarks, so only the newest message seen is reported.

export class Reading {
  /**
   * @param {HTMLElement} root the scrolling list the bubbles are in
   * @param {(serverId: string) => void} seen called with the newest incoming message on screen, whenever the user can see it
   */
  constructor(root, seen) {
    this.seen = seen;
    /** @type {Set<HTMLElement>} */
    this.visible = new Set();
    this.observer = new IntersectionObserver((entries) => this.observed(entries), { root, threshold: [0, 0.5, 1] });
    window.addEventListener("focus", () => this.check());
    document.addEventListener("visibilitychange", () => this.check());
  }

  watch(el) {
    this.observer.observe(el);
  }

  /** Another conversation is drawn: none of these bubbles is on screen any more. */
  reset() {
    this.observer.disconnect();
    this.visible.clear();
  }

  /** Reports the newest incoming message on screen, if the user can see the page. */
  check() {
    if (document.visibilityState !== "visible" || !document.hasFocus()) return;
    let newest = null;
    for (const el of this.visible) {
      if (!el.isConnected) this.visible.delete(el);
      else if (!newest || newest.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING) newest = el;
    }
    if (newest) this.seen(newest.dataset.id);
  }

  observed(entries) {
    for (const entry of entries) {
      const half = entry.intersectionRatio >= 0.5 || entry.intersectionRect.height >= (entry.rootBounds?.height ?? 0) / 2;
      if (entry.isIntersecting && half) this.visible.add(entry.target);
      else this.visible.delete(entry.target);
    }
    this.check();
  }
}
