// Reads a signed manifest (JSON) on stdin; prints {"verified": bool, "canonical": ..., "manifestDigest": ...}
// and exits 0 when the signature verifies with the original algorithm, 1 otherwise.
import { readFileSync } from "node:fs";
import { canonical, manifestDigest, verifyManifest } from "./canonical.mjs";

const manifest = JSON.parse(readFileSync(0, "utf8"));
const verified = verifyManifest(manifest);
console.log(JSON.stringify({ verified, canonical: canonical(manifest), manifestDigest: manifestDigest(manifest) }));
process.exit(verified ? 0 : 1);
