// Loaded by mocha before every spec (see .mocharc.json).
process.env.FLOE_TEST = '1';
export {};
