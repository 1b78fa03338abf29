/** Bytes as GiB with two decimals, the unit every memory figure of the planner is stated in. */
export const fmtGiB = (bytes: number): string => `${(bytes / 2 ** 30).toFixed(2)} GiB`;
