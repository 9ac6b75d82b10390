/** An output file from /view shown the right way: a looping video for video files, an image otherwise. */
import { viewUrl } from "../api/client";
import type { FileRef } from "../api/types";

const VIDEO = /\.(mp4|webm|mov|mkv)$/i;

export function Media({ file, className }: { file: FileRef; className: string }) {
  const src = viewUrl(file);
  if (VIDEO.test(file.filename)) return <video className={className} src={src} controls loop muted playsInline />;
  return <img className={className} src={src} alt={file.filename} loading="lazy" draggable={false} />;
}
