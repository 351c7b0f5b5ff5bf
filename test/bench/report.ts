/**
 * Turns medians into what a reader sees: the markdown table (server, floor,
 * server/floor) and the target verdicts. Pure.
 */
import type { ScenarioMedians, TargetResult, TargetSpec } from "./stats.ts";

/** The issue's targets. */
export const TARGETS: readonly TargetSpec[] = [
  // v3 (the socket in the object, the floor batching as the server does).
  {
    label: "pairs throughput ≥ 0.9× floor (with the conversation index)",
    scenario: "pairs",
    metric: "msgsPerSec",
    of: "ratio",
    op: ">=",
    threshold: 0.9,
  },
  { label: "pairs ack p99 ≤ 1.3× floor", scenario: "pairs", metric: "ackP99", of: "ratio", op: "<=", threshold: 1.3 },
  { label: "CPU per message ≤ 1.2× floor", scenario: "pairs", metric: "runtimeCpuUsPerMsg", of: "ratio", op: "<=", threshold: 1.2 },
  { label: "fan-in throughput ≥ 0.9× floor", scenario: "fanin", metric: "msgsPerSec", of: "ratio", op: ">=", threshold: 0.9 },
  {
    label: "every ack after a durable commit (acked, then SIGKILL: missing from the sender's log)",
    scenario: "crash",
    metric: "missingFromSenderLog",
    of: "server",
    op: "==",
    threshold: 0,
  },
  { label: "first connects/s ≥ 0.9× floor", scenario: "connect", metric: "connectsPerSec", of: "ratio", op: ">=", threshold: 0.9 },
  { label: "reconnects/s ≥ 0.9× floor", scenario: "connect", metric: "reconnectsPerSec", of: "ratio", op: ">=", threshold: 0.9 },
  {
    label: "CPU per reconnect ≤ 1.2× floor",
    scenario: "connect",
    metric: "runtimeCpuUsPerReconnect",
    of: "ratio",
    op: "<=",
    threshold: 1.2,
  },
  { label: "returns/s ≥ 0.9× floor", scenario: "connect", metric: "returnsPerSec", of: "ratio", op: ">=", threshold: 0.9 },
  { label: "CPU per connect ≤ 1.15× floor", scenario: "connect", metric: "runtimeCpuUsPerConn", of: "ratio", op: "<=", threshold: 1.15 },
  { label: "bytes per connection ≤ 1.2× floor", scenario: "connect", metric: "bytesPerConn", of: "ratio", op: "<=", threshold: 1.2 },
  {
    label: "history: 10,000-row page p50 ≤ 1.5× the 100-row p50",
    scenario: "history",
    metric: "pageGrowth",
    of: "server",
    op: "<=",
    threshold: 1.5,
  },
  { label: "group deliveries/s ≥ 0.5× floor", scenario: "group", metric: "deliveriesPerSec", of: "ratio", op: ">=", threshold: 0.5 },
  { label: "group send-to-last-member p99 ≤ 2× floor", scenario: "group", metric: "lastMemberP99", of: "ratio", op: "<=", threshold: 2 },
  {
    label: "group: lost + duplicated + out of group order = 0",
    scenario: "group",
    metric: "anomalies",
    of: "server",
    op: "==",
    threshold: 0,
  },
  {
    label: "biggroup: member deliveries/s ≥ 0.7× floor",
    scenario: "biggroup",
    metric: "deliveriesPerSec",
    of: "ratio",
    op: ">=",
    threshold: 0.7,
  },
  {
    label: "biggroup: send-to-last-member p99 ≤ 2× floor",
    scenario: "biggroup",
    metric: "lastMemberP99",
    of: "ratio",
    op: "<=",
    threshold: 2,
  },
  {
    label: "biggroup: lost + duplicated + out of order = 0",
    scenario: "biggroup",
    metric: "anomalies",
    of: "server",
    op: "==",
    threshold: 0,
  },
  { label: "files: upload ≥ 0.8× floor (10 MiB)", scenario: "files", metric: "uploadMiBps", of: "ratio", op: ">=", threshold: 0.8 },
  { label: "files: download ≥ 0.8× floor (10 MiB)", scenario: "files", metric: "downloadMiBps", of: "ratio", op: ">=", threshold: 0.8 },
  { label: "offline drain ≥ 5,000 msgs/s", scenario: "drain", metric: "msgsPerSec", of: "server", op: ">=", threshold: 5000 },
  { label: "pairs: lost + duplicated + out-of-order = 0", scenario: "pairs", metric: "anomalies", of: "server", op: "==", threshold: 0 },
  { label: "fan-in: lost + duplicated + out-of-order = 0", scenario: "fanin", metric: "anomalies", of: "server", op: "==", threshold: 0 },
  { label: "drain: lost + duplicated + out-of-order = 0", scenario: "drain", metric: "anomalies", of: "server", op: "==", threshold: 0 },
  {
    label: "crash: acked messages reach the recipient after the restart",
    scenario: "crash",
    metric: "missingAtRecipient",
    of: "server",
    op: "==",
    threshold: 0,
  },
  {
    label: "storm: every user back within 60,000 ms of the SIGTERM",
    scenario: "storm",
    metric: "backMs",
    of: "server",
    op: "<=",
    threshold: 60_000,
  },
  { label: "storm: lost + duplicated + out-of-order = 0", scenario: "storm", metric: "anomalies", of: "server", op: "==", threshold: 0 },
];

/** Rows of the results table: which metrics to show, in order, and how. */
interface Row {
  metric: string;
  label: string;
  unit: "msgs/s" | "ms" | "count" | "conn/s" | "KB" | "µs" | "x" | "MiB/s" | "calls/s";
}

/** Counts that must be 0 wherever messages flow. */
const ANOMALY_ROWS: Row[] = [
  { metric: "lost", label: "lost", unit: "count" },
  { metric: "duplicated", label: "duplicated", unit: "count" },
  { metric: "outOfOrder", label: "out of order", unit: "count" },
];

const TRAFFIC_ROWS: Row[] = [
  { metric: "msgsPerSec", label: "throughput", unit: "msgs/s" },
  { metric: "ackP50", label: "ack p50", unit: "ms" },
  { metric: "ackP99", label: "ack p99", unit: "ms" },
  { metric: "deliveryP50", label: "delivery p50", unit: "ms" },
  { metric: "deliveryP99", label: "delivery p99", unit: "ms" },
  { metric: "runtimeCpuUsPerMsg", label: "workerd runtime CPU per msg", unit: "µs" },
  { metric: "proxyCpuUsPerMsg", label: "workerd proxy CPU per msg", unit: "µs" },
  { metric: "clientCpuUsPerMsg", label: "bench client CPU per msg", unit: "µs" },
  ...ANOMALY_ROWS,
];

const ROWS: Record<string, Row[]> = {
  pairs: TRAFFIC_ROWS,
  fanin: TRAFFIC_ROWS,
  connect: [
    { metric: "connectsPerSec", label: "connects/s", unit: "conn/s" },
    { metric: "connectP50", label: "connect p50", unit: "ms" },
    { metric: "connectP99", label: "connect p99", unit: "ms" },
    { metric: "bytesPerConn", label: "workerd RSS per connection", unit: "KB" },
    { metric: "runtimeBytesPerConn", label: "… of which the runtime process", unit: "KB" },
    { metric: "runtimeCpuUsPerConn", label: "workerd runtime CPU per connect", unit: "µs" },
    { metric: "reconnectsPerSec", label: "reconnects/s (back within seconds, object in memory)", unit: "conn/s" },
    { metric: "runtimeCpuUsPerReconnect", label: "workerd runtime CPU per reconnect", unit: "µs" },
    { metric: "reconnectP99", label: "reconnect p99", unit: "ms" },
    { metric: "returnsPerSec", label: "returns/s (back after the object was evicted)", unit: "conn/s" },
    { metric: "runtimeCpuUsPerReturn", label: "workerd runtime CPU per return", unit: "µs" },
    { metric: "returnP99", label: "return p99", unit: "ms" },
    { metric: "lost", label: "failed connects", unit: "count" },
  ],
  drain: [
    { metric: "msgsPerSec", label: "drain rate", unit: "msgs/s" },
    { metric: "drainMs", label: "time to receive all", unit: "ms" },
    { metric: "firstFrameMs", label: "first queued frame", unit: "ms" },
    { metric: "fillMsgsPerSec", label: "queue fill (acks/s, one sender)", unit: "msgs/s" },
    ...ANOMALY_ROWS,
  ],
  history: [
    { metric: "page100P50", label: "50-message page, 100-row log, p50", unit: "ms" },
    { metric: "page100P99", label: "… p99", unit: "ms" },
    { metric: "page10kP50", label: "50-message page, large log, p50", unit: "ms" },
    { metric: "page10kP99", label: "… p99", unit: "ms" },
    { metric: "pageGrowth", label: "page p50, large / 100-row", unit: "x" },
    { metric: "list100P50", label: "conversation list, 100 rows (1 conversation), p50", unit: "ms" },
    { metric: "list100P99", label: "… p99", unit: "ms" },
    { metric: "list10kP50", label: "conversation list, large log (1,000 conversations), p50", unit: "ms" },
    { metric: "list10kP99", label: "… p99", unit: "ms" },
    { metric: "listGrowth", label: "list p50, large / 100-row", unit: "x" },
  ],
  group: [
    { metric: "deliveriesPerSec", label: "member deliveries", unit: "msgs/s" },
    { metric: "lastMemberP50", label: "send to last member p50", unit: "ms" },
    { metric: "lastMemberP99", label: "send to last member p99", unit: "ms" },
    { metric: "runtimeCpuUsPerDelivery", label: "workerd runtime CPU per delivery", unit: "µs" },
    ...ANOMALY_ROWS,
  ],
  biggroup: [
    { metric: "deliveriesPerSec", label: "member deliveries to sockets", unit: "msgs/s" },
    { metric: "lastMemberP50", label: "send to last socket member p50", unit: "ms" },
    { metric: "lastMemberP99", label: "send to last socket member p99", unit: "ms" },
    { metric: "busiestCallsPerSec", label: "busiest object's calls (made + received)", unit: "calls/s" },
    { metric: "busiestCallsPerMsg", label: "busiest object's calls per message sent", unit: "count" },
    { metric: "groupCallsPerSec", label: "… the group object's", unit: "calls/s" },
    { metric: "shardCallsPerSec", label: "… the busiest shard's", unit: "calls/s" },
    { metric: "memberCallsPerSec", label: "… the busiest member's", unit: "calls/s" },
    { metric: "runtimeCpuUsPerDelivery", label: "workerd runtime CPU per member delivery (offline members too)", unit: "µs" },
    ...ANOMALY_ROWS,
  ],
  presence: [
    { metric: "watchRegistrations", label: "watch registrations answered", unit: "count" },
    { metric: "presenceFramesPerTransition", label: "PRESENCE frames (= watcher RPCs) per transition", unit: "count" },
    { metric: "cpuUsPerTransitionWatched", label: "workerd CPU per connect or disconnect, 20 watchers", unit: "µs" },
    { metric: "cpuUsPerTransitionAlone", label: "… with no watchers", unit: "µs" },
  ],
  files: [
    { metric: "uploadMiBps", label: "upload throughput, one file at a time", unit: "MiB/s" },
    { metric: "downloadMiBps", label: "download throughput, one file at a time", unit: "MiB/s" },
    { metric: "uploadMs", label: "upload time", unit: "ms" },
    { metric: "downloadMs", label: "download time", unit: "ms" },
    { metric: "rssPeak1MiB", label: "workerd RSS peak over rest, 1 MiB files", unit: "KB" },
    { metric: "rssPeakBig", label: "workerd RSS peak over rest, large files", unit: "KB" },
  ],
  crash: [
    { metric: "acked", label: "acked before SIGKILL", unit: "count" },
    { metric: "missingFromSenderLog", label: "acked but missing from sender's log", unit: "count" },
    { metric: "inRecipientLogAtRestart", label: "acked and in recipient's log at restart", unit: "count" },
    { metric: "missingAtRecipient", label: "acked, not at recipient after the wait", unit: "count" },
    { metric: "redeliverMs", label: "time until all acked reached the recipient", unit: "ms" },
  ],
  storm: [
    { metric: "restartMs", label: "SIGTERM to the new server answering /health", unit: "ms" },
    { metric: "firstBackMs", label: "SIGTERM to the first user back (open)", unit: "ms" },
    { metric: "backP50Ms", label: "SIGTERM to a user back, p50", unit: "ms" },
    { metric: "backMs", label: "SIGTERM to every user back", unit: "ms" },
    { metric: "backSpreadMs", label: "first to last user back", unit: "ms" },
    { metric: "caughtUpMs", label: "SIGTERM to every user caught up (has all acked to it)", unit: "ms" },
    { metric: "peakConnectsPerSec", label: "peak connects/s (any 1 s)", unit: "conn/s" },
    { metric: "peakAttemptsPerSec", label: "peak connection attempts/s", unit: "conn/s" },
    { metric: "attemptsPerUser", label: "attempts per user", unit: "x" },
    { metric: "dropsAfterBack", label: "drops after a user was back", unit: "count" },
    { metric: "withoutSince", label: "reconnects without since", unit: "count" },
    { metric: "sent", label: "messages sent", unit: "count" },
    { metric: "unacked", label: "unacked at the end", unit: "count" },
    ...ANOMALY_ROWS,
  ],
};

export const SCENARIO_TITLES: Record<string, string> = {
  pairs: "pairs",
  fanin: "fan-in",
  connect: "connect",
  drain: "offline drain",
  crash: "crash (server only)",
  history: "history (server only)",
  group: "group",
  biggroup: "biggroup",
  presence: "presence (server only)",
  storm: "storm (server only)",
  files: "files (10 MiB)",
};

export function fmt(value: number | undefined, unit: Row["unit"] | "ratio"): string {
  if (value === undefined || !Number.isFinite(value)) return "–";
  if (unit === "ratio" || unit === "x") return `${value.toFixed(2)}×`;
  if (unit === "KB") return `${(value / 1024).toFixed(0)}`;
  if (unit === "ms") return value < 10 ? value.toFixed(2) : value < 100 ? value.toFixed(1) : value.toFixed(0);
  if (unit === "count") return String(Math.round(value * 10) / 10);
  if (unit === "MiB/s") return value.toFixed(1);
  return Math.round(value).toLocaleString("en-US");
}

/** `| scenario | metric | server | floor | server/floor |`, one row per metric measured. */
export function resultsTable(results: Readonly<Record<string, ScenarioMedians>>): string {
  const lines = ["| scenario | metric | server | floor | server/floor |", "|---|---|--:|--:|--:|"];
  for (const [scenario, rows] of Object.entries(ROWS)) {
    const m = results[scenario];
    if (!m) continue;
    for (const row of rows) {
      const s = m.server?.[row.metric];
      const f = m.floor?.[row.metric];
      if (s === undefined && f === undefined) continue;
      const r = row.unit === "count" ? undefined : m.ratio?.[row.metric];
      lines.push(
        `| ${SCENARIO_TITLES[scenario]} | ${row.label} (${row.unit}) | ${fmt(s, row.unit)} | ${fmt(f, row.unit)} | ${fmt(r, "ratio")} |`,
      );
    }
  }
  return lines.join("\n");
}

export function targetsTable(targets: readonly TargetResult[]): string {
  const lines = ["| target | measured | required | met |", "|---|--:|--:|---|"];
  for (const t of targets) {
    const shown =
      t.of === "ratio"
        ? fmt(t.value, "ratio")
        : Number.isFinite(t.value)
          ? fmt(t.value, t.metric === "msgsPerSec" ? "msgs/s" : "count")
          : "–";
    const required = `${t.op === "==" ? "=" : t.op} ${t.of === "ratio" ? `${t.threshold}×` : t.threshold.toLocaleString("en-US")}`;
    lines.push(`| ${t.label} | ${shown} | ${required} | ${t.met === null ? "not measured" : t.met ? "met" : "**not met**"} |`);
  }
  return lines.join("\n");
}
