from responer_outbox.entrypoints.main import main

raise SystemExit(main())
