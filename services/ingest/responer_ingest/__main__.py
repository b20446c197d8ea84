from responer_ingest.entrypoints.main import main

raise SystemExit(main())
