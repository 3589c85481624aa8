/**
 * What messages carry beside their text (the images users attach): the attachment a message keeps,
 * an image the app stored (named by its hash), and the bounds chat.send and chat.edit put on them.
 * Defined once here, read by the contract, the store and the chat (main/chat/images.ts). zod only:
 * the renderer imports this file too.
 */
import { z } from 'zod';
import { IMAGE_MIME_TYPES, MAX_IMAGE_BYTES, MAX_IMAGE_PIXELS, MAX_IMAGES } from '../params';

/** The longest reference an attachment keeps (a path, a URL, a hash). */
export const ATTACHMENT_REF_CHARS = 4096;

/**
 * A file a message carries, by reference (the store keeps references, not bytes): an image the app
 * stored (ImageAttachment), or what an import brought (Jan's images: a URL or a data: URL).
 */
export const AttachmentDTO = z
  .object({
    /** e.g. 'image', 'file', 'url' */
    type: z.string().min(1).max(64),
    /** path, URL or blob id the attachment refers to */
    ref: z.string().min(1).max(ATTACHMENT_REF_CHARS),
    name: z.string().max(1000).optional(),
    mimeType: z.string().max(255).optional(),
    size: z.number().int().min(0).optional(),
    /** an image's width and height in pixels, as its header declares them (the image store records them; older rows have none) */
    width: z.number().int().min(1).max(MAX_IMAGE_PIXELS).optional(),
    height: z.number().int().min(1).max(MAX_IMAGE_PIXELS).optional(),
  })
  .strict();
export type AttachmentDTO = z.infer<typeof AttachmentDTO>;

/** An image the app stored, named by its content: the SHA-256 of its bytes, 64 lowercase hex digits (nothing else ever names a file). */
export const ImageRef = z.string().regex(/^[0-9a-f]{64}$/, 'an image is named by its SHA-256: 64 hex digits');

/** An image the user attached, as images.store stored it in <data>/images (main/chat/images.ts). */
export const ImageAttachment = AttachmentDTO.extend({
  type: z.literal('image'),
  ref: ImageRef,
  name: z.string().min(1).max(1000),
  mimeType: z.enum(IMAGE_MIME_TYPES),
  size: z.number().int().min(1).max(MAX_IMAGE_BYTES),
});
export type ImageAttachment = z.infer<typeof ImageAttachment>;

/** Why images are refused for a model without a projector (chat.send, a reply; the composer says it too). */
export const NO_VISION = 'this model does not read images; load a vision model with its projector (mmproj)';

/** The images one message may carry (each one stored by images.store). */
export const MessageImages = z.array(ImageAttachment).max(MAX_IMAGES);

/** What a user message says: text, images, documents, or some of them (never none). */
export function textOrImages<T extends { content: string; attachments?: unknown[]; documents?: unknown[] }>(r: T): boolean {
  return r.content.trim().length > 0 || (r.attachments?.length ?? 0) > 0 || (r.documents?.length ?? 0) > 0;
}
export const TEXT_OR_IMAGES = { message: 'a message needs text, an image or a document', path: ['content'] };
