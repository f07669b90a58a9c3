"""Read models in blue/green generations, one feature in one place: the registry document and its lifecycle
(`lifecycle`, pure), where it is stored (`registry`, SSM), the projector that feeds every fed generation
(`projector`), the operations that build, switch and drop one (`bluegreen`), and the replay of the log that
fills a generation (`replay`, over `log_scan`)."""
