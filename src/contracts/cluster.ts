/** Cluster mode's view as /health reports it (see README "Cluster mode"). */
export interface ClusterHealth {
  instance: string;
  redis: 'ok' | 'unreachable';
  /** Why Redis is counted as unreachable, and since when (ISO), else null. */
  reason: string | null;
  since: string | null;
  /** Live instances. */
  instances: number;
  /** Cameras this instance runs. */
  cameras_owned: number;
  /** Cameras in the shared registry. */
  cameras_total: number;
}
