/** Hearth's logging: one Logger type handed to every service; pino files under <data>/logs. */
export * from './logger';
export * from './files';
export * from './repeat';
export * from './tail';
