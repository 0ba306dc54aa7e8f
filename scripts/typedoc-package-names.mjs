// A TypeDoc plugin: names each entry point's module after its package (`@recur/core-tensor`)
// instead of its path (`core-tensor/src`), so the reference reads as a user imports it.

import { Converter, ReflectionKind } from 'typedoc';

/** @param {import('typedoc').Application} app */
export function load(app) {
  app.converter.on(Converter.EVENT_CREATE_DECLARATION, (_context, reflection) => {
    if (reflection.kindOf(ReflectionKind.Module)) reflection.name = `@recur/${reflection.name.replace(/\/src(\/index)?$/, '')}`;
  });
}
