"""HTTP only: dependencies, error mapping, one router per resource, the pages."""
