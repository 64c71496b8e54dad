/**
 * Floe reads `date` columns as 'YYYY-MM-DD' strings: node-pg's default turns them into
 * local-midnight Date objects, which shift by a day west of UTC.
 */
import { types } from 'pg';

types.setTypeParser(types.builtins.DATE, (v: string) => v);
