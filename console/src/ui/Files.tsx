/**
 * Attachments in the console: the files of a message or note (images inline as thumbnails that
 * open full size, other files as a card that downloads), and the composer's uploads in progress.
 * Files are fetched through `/v1/conversations/:id/files/:file`, which redirects to a short-lived
 * signed URL after checking that this operator may read the conversation.
 */
import { INLINE_FILE_TYPES } from '@hark/shared/limits';
import type { FileRef } from '@hark/shared/protocol';
import { t } from '../app';

export function fileSize(n: number): string {
  return n < 1024 ? `${n} B` : n < 1048576 ? `${Math.round(n / 1024)} KB` : `${(n / 1048576).toFixed(1)} MB`;
}

export function Files({ conv, files }: { conv: string; files: FileRef[] | undefined }) {
  if (!files?.length) return null;
  return (
    <div class="files">
      {files.map((f) => {
        const href = `/v1/conversations/${encodeURIComponent(conv)}/files/${encodeURIComponent(f.id)}`;
        const label = `${f.name} · ${fileSize(f.size)}`;
        return INLINE_FILE_TYPES.includes(f.type) ? (
          <a key={f.id} class="file-thumb" href={href} target="_blank" rel="noopener noreferrer" title={label}>
            <img src={href} alt={f.name} width={f.w} height={f.h} loading="lazy" />
          </a>
        ) : (
          <a key={f.id} class="file-card" href={href} target="_blank" rel="noopener noreferrer" data-type={f.type}>
            {label}
          </a>
        );
      })}
    </div>
  );
}

/** One upload from the composer: in progress (`p` 0–1), done (`file`), or refused (`err`). */
export interface Upload {
  key: number;
  name: string;
  p: number;
  file?: FileRef;
  err?: string;
  xhr?: XMLHttpRequest;
}

let keys = 0;
/** Uploads a file into a conversation; `change` is called on progress and at the end. */
export function upload(conv: string, f: File, change: (u: Upload) => void): Upload {
  const u: Upload = { key: ++keys, name: f.name || 'file', p: 0 };
  const x = new XMLHttpRequest();
  u.xhr = x;
  x.open('POST', `/v1/conversations/${encodeURIComponent(conv)}/files?name=${encodeURIComponent(u.name)}`);
  x.upload.onprogress = (e) => {
    u.p = e.total ? e.loaded / e.total : 0;
    change(u);
  };
  x.onload = () => {
    u.xhr = undefined;
    let r: { file?: FileRef; code?: string; message?: string } = {};
    try {
      r = JSON.parse(x.responseText);
    } catch {}
    if (x.status === 201 && r.file) u.file = r.file;
    else u.err = r.message || t('composer.fileFailed');
    change(u);
  };
  x.onerror = () => {
    u.xhr = undefined;
    u.err = t('composer.fileFailed');
    change(u);
  };
  x.send(f);
  return u;
}
