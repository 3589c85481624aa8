/** The least time between two progress events of one long job (a model import, a chats import, a data-folder move). */
export const PROGRESS_EVERY_MS = 200;
