"""The web tier: public portal pages, the JSON API and (embedded storage) media serving."""
