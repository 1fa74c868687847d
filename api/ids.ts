const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids in paths are UUIDs; anything else is answered 404 before PostgreSQL would refuse the cast. */
export function isUuid(s: string): boolean {
  return uuidPattern.test(s);
}
