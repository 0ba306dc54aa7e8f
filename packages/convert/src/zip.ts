// Reads the entries of a zip archive (torch.save's container) with fflate, bounded by the file:
// the central directory is listed first without extracting anything, then only the named entries
// are extracted, each declared size checked before fflate allocates it.

import { unzipSync } from 'fflate';
import { ModelFileError, quote } from './errors.js';

/** The smallest central-directory record: a hostile entry count cannot outrun the file. */
const CENTRAL_RECORD_BYTES = 46;

/** Names of every entry, in directory order; refuses duplicates, other compressions, impossible counts. */
export function listZip(where: string, bytes: Uint8Array): string[] {
  const names: string[] = [];
  const seen = new Set<string>();
  const maxEntries = Math.floor(bytes.length / CENTRAL_RECORD_BYTES) + 1;
  guard(where, () =>
    unzipSync(bytes, {
      filter(file) {
        if (names.length >= maxEntries) {
          throw new ModelFileError(`${where}: the zip directory claims more entries than ${bytes.length} bytes can hold (at most ${maxEntries})`);
        }
        if (seen.has(file.name)) throw new ModelFileError(`${where}: the zip holds the entry ${quote(file.name)} twice`);
        seen.add(file.name);
        names.push(file.name);
        return false;
      },
    }),
  );
  return names;
}

/**
 * The bytes of the entries `wanted` selects (copies, since fflate copies stored entries). Their
 * declared sizes together may not exceed `budget` bytes.
 */
export function extractZip(where: string, bytes: Uint8Array, wanted: ReadonlySet<string>, budget: number): Map<string, Uint8Array> {
  let total = 0;
  const files = guard(where, () =>
    unzipSync(bytes, {
      filter(file) {
        if (!wanted.has(file.name)) return false;
        if (file.compression !== 0 && file.compression !== 8) {
          throw new ModelFileError(
            `${where}: zip entry ${quote(file.name)}: expected compression method 0 (stored) or 8 (deflate), got ${file.compression}`,
          );
        }
        const size = file.compression === 0 ? file.size : file.originalSize;
        total += size;
        if (!(total <= budget)) {
          throw new ModelFileError(
            `${where}: zip entry ${quote(file.name)} declares ${size} bytes; the entries read would need ${total}, more than ${budget} for a file of ${bytes.length} bytes`,
          );
        }
        return true;
      },
    }),
  );
  const out = new Map<string, Uint8Array>();
  for (const name of wanted) {
    if (Object.hasOwn(files, name)) out.set(name, files[name]!);
  }
  return out;
}

/** Runs fflate, turning its errors (and any past a malformed directory) into ModelFileErrors. */
function guard<T>(where: string, run: () => T): T {
  try {
    return run();
  } catch (e) {
    if (e instanceof ModelFileError) throw e;
    throw new ModelFileError(`${where}: expected a readable zip archive, got one fflate cannot read (${(e as Error)?.message ?? String(e)})`, {
      cause: e,
    });
  }
}
