/**
 * The one error hierarchy of Floe. Every error a user can meet is a FloeError with a
 * stable `code`, a `retriable` flag that drives the retry helper, an optional `cause`,
 * and `context` naming what it is about (event id, line, field path, stream...).
 */
export class FloeError extends Error {
  readonly code: string;
  readonly retriable: boolean;
  readonly context: Record<string, unknown>;

  constructor(
    code: string,
    message: string,
    options: { retriable?: boolean; cause?: unknown; context?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.retriable = options.retriable ?? false;
    this.context = options.context ?? {};
  }
}

export const isFloeError = (e: unknown): e is FloeError =>
  e instanceof Error && typeof (e as FloeError).code === 'string' && 'retriable' in e;

/** One problem found in one value: where (a dotted field path such as `data.bounceType`) and why. */
export interface ValidationIssue {
  path: string;
  message: string;
}

/** An event (or its payload) that does not match its schema or the envelope rules. */
export class ValidationError extends FloeError {
  readonly issues: ValidationIssue[];
  constructor(issues: ValidationIssue[], context: Record<string, unknown> = {}) {
    super('VALIDATION', issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join('; '), {
      context,
    });
    this.issues = issues;
  }
}

/** A schema change that would break decoding between two versions of a type. */
export class SchemaCompatibilityError extends FloeError {
  constructor(message: string, context: Record<string, unknown> = {}) {
    super('SCHEMA_INCOMPATIBLE', message, { context });
  }
}
