// Loaded by mocha before every spec (see .mocharc.json): environment and root hooks.
import { dropTestDatabases } from './helpers/backends';

process.env.FLOE_TEST = '1';

export const mochaHooks = {
  // After every suite, when all their pools are closed: drop the suites' databases.
  afterAll: dropTestDatabases,
};
