/**
 * The object's one alarm, shared by every deadline (outbox retries, the
 * safety net, retention): it is set to the earliest, and `alarm()` recomputes
 * them all when it fires. A hibernated object can only be woken by it.
 */
export class Alarm {
  /** The alarm as last read or set; undefined until read after a wake. */
  private at: number | null | undefined;

  constructor(private readonly storage: DurableObjectStorage) {}

  /**
   * Arms a deadline in the caller's own turn, so the alarm commits with the
   * writes it guards (a crash just after them still leaves a wake-up). Right
   * after a wake the current alarm is not known yet and is replaced: at worst
   * an earlier one fires up to `at - now` late, and alarm() then recomputes
   * every deadline.
   */
  armNow(at: number): void {
    if (this.at != null && this.at <= at) return;
    this.at = at;
    void this.storage.setAlarm(at);
  }

  /** Makes sure the alarm fires no later than `at`. Reads storage once per wake, then trusts the cache. */
  async wakeBy(at: number): Promise<void> {
    // No deadline (retention set to keep forever).
    if (!Number.isFinite(at)) return;
    if (this.at === undefined) this.at = await this.storage.getAlarm();
    if (this.at !== null && this.at <= at) return;
    this.at = at;
    await this.storage.setAlarm(at);
  }

  /** The alarm fired: nothing is set until the handler sets the next deadline. */
  fired(): void {
    this.at = null;
  }
}
