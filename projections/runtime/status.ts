/**
 * Where each projection stands, per shard: position, lag behind the store head, parked
 * events and open dead letters of its lane, and the later sends its lane ignored (`floe status`). A Kafka shard
 * (`kafka:TOPIC/P`, floe project --source kafka) has its partition's events only, so its
 * lag is counted in messages of the partition instead: those after its stored offset when
 * its last batch was fetched (floe status does not ask the broker).
 */
import type { Pool } from 'pg';

export interface ProjectionStatus {
  name: string;
  version: number;
  /** `I/N`: shard I of N; `kafka:TOPIC/P`: partition P of a Kafka topic. */
  shard: string;
  lane: string;
  position: bigint;
  lag: bigint;
  parked: number;
  deadLetters: number;
  /** Later `email.sent` of emails already counted, ignored (DESIGN §5) while the projection folded in its lane. */
  ignoredSends: number;
  updatedAt: Date;
  /** Kafka shards: the partition's last offset taken and its end as last seen. */
  kafka?: { topic: string; partition: number; offset: bigint; highWatermark: bigint };
}

export async function projectionStatus(pool: Pool, head: bigint): Promise<ProjectionStatus[]> {
  const { rows } = await pool.query(`
    SELECT c.projection, c.version, c.shard, c.lane, c.position, c.ignored, c.updated_at,
           k.topic, k.partition, k."offset", k.high_watermark,
           (SELECT count(*) FROM floe.projection_parked p WHERE p.lane = c.lane AND p.shard = c.shard) AS parked,
           (SELECT count(*) FROM floe.dead_letters d WHERE d.lane = c.lane AND d.shard = c.shard AND d.resolved_at IS NULL) AS dead
      FROM floe.projection_checkpoints c
      LEFT JOIN floe.projection_kafka_offsets k ON k.lane = c.lane AND k.shard = c.shard AND k.position = c.position
     ORDER BY c.projection, c.shard`);
  return rows.map((r) => {
    const position = BigInt(r.position);
    const kafka = r.topic === null ? undefined : { topic: r.topic, partition: r.partition, offset: BigInt(r.offset), highWatermark: BigInt(r.high_watermark) };
    const behind = kafka ? kafka.highWatermark - kafka.offset - 1n : head - position;
    return {
      name: r.projection,
      version: r.version,
      shard: r.shard,
      lane: r.lane,
      position,
      lag: behind > 0n ? behind : 0n,
      parked: Number(r.parked),
      deadLetters: Number(r.dead),
      ignoredSends: Number(r.ignored),
      updatedAt: r.updated_at,
      ...(kafka ? { kafka } : {}),
    };
  });
}
