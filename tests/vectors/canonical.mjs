// The signature format of the original TypeScript skill registry, written the way it does it:
// the manifest without `signature`, undefined members dropped, keys sorted recursively with
// localeCompare, JSON.stringify without whitespace, UTF-8. Used to produce and check the vectors
// of tests/unit/test_skill_vectors.py; run with Node 20 (full ICU, default locale en-US).
import { createHash, createPublicKey, sign, verify, constants } from "node:crypto";

export function sortKeys(value) {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === "object") {
    const sorted = {};
    for (const key of Object.keys(value).sort((a, b) => a.localeCompare(b))) {
      if (value[key] !== undefined) sorted[key] = sortKeys(value[key]);
    }
    return sorted;
  }
  return value;
}

export function canonical(manifest) {
  const { signature, ...unsigned } = manifest;
  return JSON.stringify(sortKeys(unsigned));
}

export function manifestDigest(manifest) {
  return "sha256:" + createHash("sha256").update(Buffer.from(canonical(manifest), "utf8")).digest("hex");
}

const PSS = { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 };

export function signManifest(manifest, privateKey, extra = {}) {
  const payload = Buffer.from(canonical(manifest), "utf8");
  const algorithm = privateKey.asymmetricKeyType === "ed25519" ? "ed25519" : "rsa-pss-sha256";
  const raw =
    algorithm === "ed25519"
      ? sign(null, payload, privateKey)
      : sign("sha256", payload, { key: privateKey, ...PSS });
  const publicKey = createPublicKey(privateKey).export({ type: "spki", format: "pem" });
  const { signature, ...unsigned } = manifest;
  return { ...unsigned, signature: { algorithm, signature: raw.toString("base64"), publicKey, ...extra } };
}

export function verifyManifest(manifest) {
  const { algorithm, signature, publicKey } = manifest.signature;
  const payload = Buffer.from(canonical(manifest), "utf8");
  const key = createPublicKey(publicKey);
  const raw = Buffer.from(signature, "base64");
  if (algorithm === "ed25519") return verify(null, payload, key, raw);
  if (algorithm === "rsa-pss-sha256") return verify("sha256", payload, { key, ...PSS }, raw);
  return false;
}
