/** Facts about one sd-scripts option, as generated from kohya-args.json. */
export interface KohyaOptionFacts {
  /** argparse dest name = the TOML key */
  name: string;
  /** argparse type as sd-scripts declares it; 'list' means nargs='*' */
  type: 'str' | 'int' | 'float' | 'bool' | 'list' | 'int|float';
  /** item type of a 'list' option */
  itemType?: 'str' | 'float' | 'int';
  /** argparse default (absent = None) */
  default?: string | number | boolean;
  /** argparse choices, without None */
  choices?: readonly (string | number)[];
  nargs?: string;
  storeTrue?: boolean;
  pyType?: string;
  /** the seed article's section this option is usually written in */
  section: string;
}
