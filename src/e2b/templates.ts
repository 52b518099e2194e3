/**
 * E2B template ids and hearth images. `base` is hearth's default image and `code-interpreter-v1`
 * its data image (Python with numpy, pandas and matplotlib); any catalog image name works as a
 * template id too, and so does a snapshot id (the sandbox is forked from the snapshot).
 */
const TEMPLATE_IMAGES: Record<string, string> = {
  base: 'default',
  'code-interpreter-v1': 'python-data',
  'code-interpreter': 'python-data',
};

export function imageForTemplate(templateId: string): string {
  return TEMPLATE_IMAGES[templateId] ?? templateId;
}

/** The template id an image is known by to E2B clients. */
export function templateForImage(image: string): string {
  if (image === 'default') return 'base';
  if (image === 'python-data') return 'code-interpreter-v1';
  return image;
}

/** The envd version hearth reports: the SDK uses its newer paths (octet-stream uploads, closeStdin). */
export const ENVD_VERSION = '0.5.7';
