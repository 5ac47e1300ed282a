// Durations as written in the config (`90s`, `30m`, `72h`, `7d`, `1h30m`) to seconds.
const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

export function parseDuration(text: string): number | undefined {
  if (!/^([0-9]+[smhd])+$/.test(text)) return undefined;
  let total = 0;
  for (const match of text.matchAll(/([0-9]+)([smhd])/g)) {
    total += Number(match[1]) * (UNIT_SECONDS[match[2] ?? "s"] ?? 1);
  }
  return total;
}
