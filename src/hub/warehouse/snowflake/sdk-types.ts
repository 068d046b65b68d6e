/**
 * Type-only view of snowflake-sdk. Importing types costs nothing at run time; the module itself is
 * loaded lazily by sdk-loader.ts.
 */
import type * as Sdk from 'snowflake-sdk';

export type SnowflakeSdk = typeof Sdk;
export type SfConnection = Sdk.Connection;
export type SfConnectionOptions = Sdk.ConnectionOptions;
export type SfStatement = Sdk.RowStatement;
export type SfColumn = Sdk.Column;
