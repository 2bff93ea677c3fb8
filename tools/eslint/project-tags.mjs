// ESLint rule over project.json files (parsed by jsonc-eslint-parser): every
// project carries exactly one `scope:*` and one `type:*` tag, both of them
// known to the module-boundary rules. Without it a project with no tags would
// escape those rules unnoticed: @nx/enforce-module-boundaries only checks the
// tags a project has.

/** @param {{ scopes: string[], types: string[] }} known */
export function projectTagsRule({ scopes, types }) {
  const knownScopes = ['scope:shared', ...scopes.map((s) => `scope:${s}`)];
  return {
    meta: {
      type: 'problem',
      docs: { description: 'every Nx project has one known scope:* tag and one known type:* tag' },
      schema: [],
      messages: {
        missing: 'This project has no "tags": give it one scope:* ({{scopes}}) and one type:* ({{types}}) tag.',
        count: 'This project has {{count}} {{kind}}:* tags ({{found}}); it needs exactly one.',
        unknown: '"{{tag}}" is not a {{kind}} the module-boundary rules know ({{known}}); add it to eslint.config.mjs or use a known one.',
      },
    },
    create(context) {
      return {
        'Program > JSONExpressionStatement > JSONObjectExpression'(node) {
          const tagsProperty = node.properties.find((p) => (p.key.type === 'JSONLiteral' ? p.key.value : p.key.name) === 'tags');
          const tags =
            tagsProperty?.value.type === 'JSONArrayExpression'
              ? tagsProperty.value.elements.filter((e) => e?.type === 'JSONLiteral' && typeof e.value === 'string').map((e) => e.value)
              : [];
          if (tags.length === 0) {
            context.report({ node: tagsProperty ?? node, messageId: 'missing', data: { scopes: knownScopes.join(', '), types: types.join(', ') } });
            return;
          }
          for (const [kind, known] of [
            ['scope', knownScopes],
            ['type', types],
          ]) {
            const found = tags.filter((t) => t.startsWith(`${kind}:`));
            if (found.length !== 1)
              context.report({ node: tagsProperty, messageId: 'count', data: { count: String(found.length), kind, found: found.join(', ') || 'none' } });
            for (const tag of found.filter((t) => !known.includes(t)))
              context.report({ node: tagsProperty, messageId: 'unknown', data: { tag, kind, known: known.join(', ') } });
          }
        },
      };
    },
  };
}
