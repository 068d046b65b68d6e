/** The embedded sample's names: known without loading DuckDB (the hub resolves targets before opening). */
export const SAMPLE_DATABASE = 'SNOWMUX_SAMPLE';
export const SAMPLE_SCHEMA = 'TPCH';
