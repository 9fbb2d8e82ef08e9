// Writes skill_vectors.json: manifests signed here with Node's crypto following the original
// algorithm (canonical.mjs), their canonical forms and digests, and localeCompare / JSON.stringify
// behaviour on tricky keys, numbers and strings. Run: node tests/vectors/make_vectors.mjs
import { generateKeyPairSync } from "node:crypto";
import { writeFileSync } from "node:fs";
import { canonical, manifestDigest, signManifest, sortKeys } from "./canonical.mjs";

const pem = (pair) => ({
  privateKeyPem: pair.privateKey.export({ type: "pkcs8", format: "pem" }),
  publicKeyPem: pair.publicKey.export({ type: "spki", format: "pem" }),
});
const edPair = generateKeyPairSync("ed25519");
const rsaPair = generateKeyPairSync("rsa", { modulusLength: 2048 });

// Keys that sort differently under localeCompare than under code-point order.
const TRICKY_KEYS = [
  "b", "B", "a", "A", "Zeta", "alpha", "_private", "-dash", "dash-", "dash_", "a_b", "a-b", "aB", "Ab", "ab", "AB",
  "a1", "a10", "a2", "A1", "~tilde", "$dollar", "@at", "#hash", ".dot", "x y", "xy", "x.y", "x:y", "10", "2", "0",
  "01", "-1", "1.5", "4294967294", "4294967295", "", "Ω", "é", "e", "f", "ä", "z",
].filter((key) => /^[\x20-\x7e]*$/.test(key));

const metadata = {
  tricky: Object.fromEntries(TRICKY_KEYS.map((key, index) => [key, index])),
  numbers: [0, -0, 1, -1, 1.5, 0.1, 1e21, 1e20, 1e-7, 0.000001, 123456789.125, 2 ** 53, -1.25e-9, 5e-324],
  strings: ["plain", "quote \" backslash \\ slash /", "tab\tnewline\ncr\r", "\u0001\u001f\u007f", "é ü ß 漢字 😀",
    "\u2028\u2029", "<script>&amp;"],
  nested: { Z: [{ b: null, a: [true, false, null] }], z: {}, empty: [] },
  nothing: null,
};

function manifest(key, version) {
  return {
    schemaVersion: "1.0.0",
    skill: { key, version, entryPoint: "dist/index.js", description: null },
    publisher: { id: "acme", provenance: "https://github.com/acme/skills/actions/runs/42", repositoryUrl: "https://github.com/acme/skills" },
    artifact: {
      digest: "sha256:" + "ab".repeat(32),
      files: [
        { path: "dist/index.js", digest: "sha256:" + "cd".repeat(32), size: 1234 },
        { path: "README.md", digest: "sha256:" + "ef".repeat(32), size: 0 },
      ],
    },
    compatibility: {
      contractsSpec: { minVersion: "1.0.0" },
      controlPlaneFeature: { minVersion: "1.0.0", maxVersion: "1.9.9" },
      requiredCapabilities: [{ key: "control-plane.core", version: "1.0.0" }, { key: "control-plane.approval", version: "1.0.0" }],
    },
    metadata,
  };
}

const signed = (name, pair, unsigned, extra) => {
  const manifestSigned = signManifest(unsigned, pair.privateKey, extra);
  return { name, ...pem(pair), manifest: manifestSigned, canonical: canonical(manifestSigned), manifestDigest: manifestDigest(manifestSigned) };
};

const printable = [];
for (let code = 0x20; code < 0x7f; code++) printable.push(String.fromCharCode(code));

const NUMBER_LITERALS = ["0", "-0", "1", "-1", "1.5", "0.1", "0.2", "0.30000000000000004", "1e21", "1e20", "123e18",
  "1e-7", "1e-6", "0.000001234", "123456789.125", "9007199254740992", "9007199254740993", "18446744073709551616",
  "-1.25e-9", "5e-324", "1.7976931348623157e308", "2.5e-5", "100", "1e2", "3.14159", "6.02214076e23", "4.35", "0.5"];

const vectors = {
  generatedBy: "tests/vectors/make_vectors.mjs",
  node: process.version,
  icu: process.versions.icu,
  locale: Intl.Collator().resolvedOptions().locale,
  signed: [
    signed("ed25519", edPair, manifest("acme.summarize", "1.2.0"), { keyId: "acme-ed25519-2026", issuedAt: "2026-01-15T09:30:00.000Z", expiresAt: "2099-01-01T00:00:00.000Z" }),
    signed("rsa-pss-sha256", rsaPair, manifest("acme.translate", "2.0.0-beta.1"), { keyId: "acme-rsa-2026", issuedAt: "2026-01-15T09:30:00.000Z" }),
    signed("ed25519-expired", edPair, manifest("acme.summarize", "1.1.0"), { keyId: "acme-ed25519-2026", issuedAt: "2020-01-01T00:00:00.000Z", expiresAt: "2021-01-01T00:00:00.000Z" }),
  ],
  asciiCollation: printable.sort((a, b) => a.localeCompare(b)).join(""),
  keyOrders: [TRICKY_KEYS, ["a", "A", "b", "B"], ["B", "a"], ["_", "-", ",", ";", ":", "!", "?", ".", "a"], ["a-b", "a_b", "ab", "a b", "aB", "Ab"],
    ["item10", "item2", "Item1", "item_1", "item-1"], ["10", "9", "1", "a", "01", "-5"]].map((keys) => ({
    keys,
    localeCompare: [...keys].sort((a, b) => a.localeCompare(b)),
    stringify: JSON.stringify(sortKeys(Object.fromEntries(keys.map((key) => [key, 0])))),
  })),
  numbers: NUMBER_LITERALS.map((literal) => ({ literal, stringify: JSON.stringify(Number(literal)) })),
  strings: ["", "a\"b", "back\\slash", "\b\f\n\r\t", "\u0000\u0001\u001f", "\u007f\u0080", "\u2028\u2029", "\ud800", "a\udfffb", "😀", "é"].map((value) => ({
    value,
    stringify: JSON.stringify(value),
  })),
};

writeFileSync(new URL("./skill_vectors.json", import.meta.url), JSON.stringify(vectors, null, 2) + "\n");
console.log("wrote tests/vectors/skill_vectors.json");
