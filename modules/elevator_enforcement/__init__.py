# Registration of this module's classes is declared in tryton.cfg.
