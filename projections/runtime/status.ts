/**
 * Where each projection stands, per shard: position, lag behind the store head, parked
 * events and open dead letters of its lane (`floe status`).
 */
import type { Pool } from 'pg';

export interface ProjectionStatus {
  name: string;
  version: number;
  /** `I/N`: shard I of N. */
  shard: string;
  lane: string;
  position: bigint;
  lag: bigint;
  parked: number;
  deadLetters: number;
  updatedAt: Date;
}

export async function projectionStatus(pool: Pool, head: bigint): Promise<ProjectionStatus[]> {
  const { rows } = await pool.query(`
    SELECT c.projection, c.version, c.shard, c.lane, c.position, c.updated_at,
           (SELECT count(*) FROM floe.projection_parked p WHERE p.lane = c.lane AND p.shard = c.shard) AS parked,
           (SELECT count(*) FROM floe.dead_letters d WHERE d.lane = c.lane AND d.shard = c.shard AND d.resolved_at IS NULL) AS dead
      FROM floe.projection_checkpoints c ORDER BY c.projection, c.shard`);
  return rows.map((r) => {
    const position = BigInt(r.position);
    return {
      name: r.projection,
      version: r.version,
      shard: r.shard,
      lane: r.lane,
      position,
      lag: head > position ? head - position : 0n,
      parked: Number(r.parked),
      deadLetters: Number(r.dead),
      updatedAt: r.updated_at,
    };
  });
}
