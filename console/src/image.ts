/** An avatar is picked here, shrunk, and uploaded as a data: URL; the gateway stores it as an image and serves it at /v1/avatars/…. */

/** 96 px covers a 48 px avatar on a 2× screen. */
export const AVATAR_PX = 96;
/** Keeps an operator record small; a 96 px JPEG is ~5 KB. */
export const AVATAR_MAX_CHARS = 64 * 1024;

function readAsDataUrl(file: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result));
    r.onerror = () => reject(r.error);
    r.readAsDataURL(file);
  });
}

function loadImage(src: string): Promise<HTMLImageElement> {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error('not an image'));
    img.src = src;
  });
}

/** Square-crops to the centre and scales to AVATAR_PX, as a JPEG data URL. */
export async function avatarFromFile(file: Blob): Promise<string> {
  const img = await loadImage(await readAsDataUrl(file));
  const side = Math.min(img.naturalWidth, img.naturalHeight);
  const canvas = document.createElement('canvas');
  canvas.width = AVATAR_PX;
  canvas.height = AVATAR_PX;
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('canvas unavailable');
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, AVATAR_PX, AVATAR_PX);
  ctx.drawImage(img, (img.naturalWidth - side) / 2, (img.naturalHeight - side) / 2, side, side, 0, 0, AVATAR_PX, AVATAR_PX);
  const url = canvas.toDataURL('image/jpeg', 0.85);
  if (url.length > AVATAR_MAX_CHARS) throw new Error('avatar too large');
  return url;
}
