// Prints the README's metric table from the code's catalog: node --import tsx scripts/catalog-table.ts
import { catalogMarkdown } from '../src/metrics/catalog-markdown.ts';

process.stdout.write(`${catalogMarkdown()}\n`);
