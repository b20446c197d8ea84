from responer_search.entrypoints.main import main

raise SystemExit(main())
