"""Service layer: business rules over the store. No GraphQL, no HTTP."""
