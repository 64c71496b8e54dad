/** The projected tables: DDL as data, row-level security, monthly partitions, materialized views. */
export * from './ddl';
export * from './partitions';
export * from './rls';
export * from './views';
export { relation, type Relation } from './names';
